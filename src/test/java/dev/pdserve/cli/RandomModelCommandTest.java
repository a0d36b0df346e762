package dev.pdserve.cli;

import dev.pdserve.TestModels;
import dev.pdserve.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class RandomModelCommandTest {
    @TempDir Path dir;

    private record Run(int code, String err) {}

    private static Run run(String... args) {
        var cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        return new Run(cl.execute(args), err.toString());
    }

    @Test
    void flagsOverrideThePresetAndShardsAreWritten() {
        Path out = dir.resolve("m");
        Run r = run("random-model", "--arch", "llama", "--preset", "tiny", "--num-layers", "2", "--hidden-size", "128",
                "--num-heads", "4", "--num-kv-heads", "1", "--intermediate-size", "256", "--vocab-size", "4100",
                "--max-shard-size", "1M", "--seed", "5", "--out", out.toString(), "--tokenizer-from", TestModels.deepseek().toString());
        assertThat(r.code()).as(r.err()).isZero();
        ModelConfig c = ModelConfig.load(out);
        assertThat(c.numLayers()).isEqualTo(2);
        assertThat(c.hiddenSize()).isEqualTo(128);
        assertThat(c.numKvHeads()).isEqualTo(1);
        assertThat(c.headDim()).isEqualTo(32);
        assertThat(c.vocabSize()).isEqualTo(4100);
        assertThat(out.resolve("model.safetensors.index.json")).exists();
        assertThat(out.resolve("tokenizer.json")).exists();
    }

    @Test
    void badFlagsAreClearErrors() {
        Run arch = run("random-model", "--arch", "gpt2", "--out", dir.toString());
        assertThat(arch.code()).isNotZero();
        assertThat(arch.err()).contains("--arch must be one of [llama, deepseek_v3]");
        Run size = run("random-model", "--max-shard-size", "lots", "--out", dir.toString(), "--tokenizer-from", TestModels.deepseek().toString());
        assertThat(size.code()).isNotZero();
        assertThat(size.err()).contains("Invalid value for option '--max-shard-size': 'lots' is not a size");
        Run heads = run("random-model", "--num-kv-heads", "3", "--out", dir.toString(), "--tokenizer-from", TestModels.deepseek().toString());
        assertThat(heads.code()).isNotZero();
        assertThat(heads.err()).contains("not a multiple of 3 kv heads");
    }
}
