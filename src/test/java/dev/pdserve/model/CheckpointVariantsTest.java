package dev.pdserve.model;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Checkpoint shapes the golden folders do not have: F32 and F16 weights, shards, DeepSeek without q_lora. */
class CheckpointVariantsTest {
    @TempDir Path tmp;

    /** Copies llama-tiny with every BF16 tensor widened to {@code dtype}, optionally sharded. */
    private Path rewrite(DType dtype, long maxShardBytes) throws IOException {
        Path out = tmp.resolve(dtype + "-" + maxShardBytes);
        Files.createDirectories(out);
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(TestModels.llama().resolve(f), out.resolve(f));
        }
        try (SafeTensors in = SafeTensors.open(TestModels.llama()); Arena arena = Arena.ofShared()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : in.names()) {
                Tensor t = in.get(name);
                float[] v = Weights.toFloats(t);
                MemorySegment seg = arena.allocate((long) v.length * dtype.bytes);
                for (int i = 0; i < v.length; i++) {
                    if (dtype == DType.F32) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, v[i]);
                    else seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, Float.floatToFloat16(v[i]));
                }
                w.add(name, dtype, t.shape(), seg);
            }
            if (maxShardBytes > 0) w.writeSharded(out, maxShardBytes);
            else w.write(out.resolve("model.safetensors"));
        }
        return out;
    }

    private static float[] lastLogits(Path dir, int[] ids) {
        try (CausalLM m = ModelLoader.load(dir, LoadOptions.defaults()); SingleSequence seq = new SingleSequence(m, ids.length)) {
            return seq.feed(ids).clone();
        }
    }

    @Test
    void f32AndShardedCheckpointsGiveTheBf16Logits() throws IOException {
        GoldenReference.Prompt p = GoldenReference.load(TestModels.llama()).prompts().get(3);
        float[] bf16 = lastLogits(TestModels.llama(), p.inputIds());
        // bf16 values widen exactly to f32, so the logits are the same bit for bit.
        assertThat(lastLogits(rewrite(DType.F32, 0), p.inputIds())).containsExactly(bf16);
        Path sharded = rewrite(DType.F32, 4 << 20);
        assertThat(sharded.resolve("model.safetensors.index.json")).exists();
        try (var files = Files.list(sharded)) {
            assertThat(files.filter(f -> f.getFileName().toString().startsWith("model-000")).count()).isGreaterThan(2);
        }
        assertThat(lastLogits(sharded, p.inputIds())).containsExactly(bf16);
    }

    @Test
    void f16CheckpointStaysWithinTheGoldenTolerance() throws IOException {
        GoldenReference.Prompt p = GoldenReference.load(TestModels.llama()).prompts().get(3);
        float[] got = lastLogits(rewrite(DType.F16, 0), p.inputIds());
        // bf16 values with small exponents are exact in f16; the few that round keep it within 1e-3.
        assertThat(SingleSequence.maxAbsDiff(got, p.lastLogits())).isLessThan(1e-2f);
        assertThat(SingleSequence.argmax(got)).isEqualTo(SingleSequence.argmax(p.lastLogits()));
    }

    @Test
    void deepseekWithoutQLoraRunsAndItsCacheIsConsistent() throws IOException {
        RandomCheckpoint.Spec spec = RandomCheckpoint.preset("deepseek_v3", "tiny");
        spec.qLoraRank = 0;
        Path dir = tmp.resolve("no-qlora");
        RandomCheckpoint.write(spec, dir, 3, 0, TestModels.deepseek());
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertThat(st.has("model.layers.0.self_attn.q_proj.weight")).isTrue();
            assertThat(st.has("model.layers.0.self_attn.q_a_proj.weight")).isFalse();
        }
        int[] ids = {0, 17, 300, 5, 900, 41, 7, 2000};
        try (CausalLM m = ModelLoader.load(dir, LoadOptions.defaults())) {
            float[] whole;
            try (SingleSequence s = new SingleSequence(m, ids.length)) { whole = s.feed(ids).clone(); }
            try (SingleSequence s = new SingleSequence(m, ids.length)) {
                s.feed(Arrays.copyOf(ids, 5));
                s.feed(ids[5]);
                s.feed(ids[6]);
                assertThat(s.feed(ids[7])).containsExactly(whole);
            }
            for (float v : whole) assertThat(Float.isFinite(v)).isTrue();
        }
    }
}
