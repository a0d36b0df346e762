package dev.pdserve.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelConfigTest {
    @Test
    void readsDeepseekConfig() {
        ModelConfig c = ModelConfig.load(TestModels.deepseek());
        assertThat(c.modelType()).isEqualTo("deepseek_v3");
        assertThat(c.mla().kvLoraRank()).isEqualTo(64);
        assertThat(c.mla().qLoraRank()).isEqualTo(96);
        assertThat(c.mla().qkRopeHeadDim()).isEqualTo(16);
        assertThat(c.moe().isMoeLayer(0)).isFalse();
        assertThat(c.moe().isMoeLayer(1)).isTrue();
        assertThat(c.rope().type()).isEqualTo("yarn");
        assertThat(c.rope().factor()).isEqualTo(4.0);
        assertThat(c.eosTokenIds()).containsExactly(1);
    }

    @Test
    void readsLlamaConfig() {
        ModelConfig c = ModelConfig.load(TestModels.llama());
        assertThat(c.numKvHeads()).isEqualTo(2);
        assertThat(c.headDim()).isEqualTo(32);
        assertThat(c.rope().type()).isEqualTo("default");
        assertThat(c.rope().theta()).isEqualTo(500000.0);
        assertThat(c.mla()).isNull();
    }

    @Test
    void yarnKeepsHighFrequenciesAndInterpolatesLowOnes() {
        RopeConfig rope = ModelConfig.load(TestModels.deepseek()).rope();
        double[] inv = rope.inverseFrequencies(16);
        assertThat(inv[0]).isEqualTo(1.0);
        assertThat(inv[7]).isCloseTo(Math.pow(10000, -14.0 / 16) / 4, within(1e-12));
        assertThat(rope.cosSinScale()).isEqualTo(1.0);
    }

    @Test
    void unknownModelTypeListsSupported(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(TestModels.llama().resolve("config.json").toFile());
        cfg.put("model_type", "gpt2");
        Files.writeString(dir.resolve("config.json"), cfg.toString());
        assertThatThrownBy(() -> ModelConfig.load(dir))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("'gpt2' is not supported")
                .hasMessageContaining("deepseek_v3, llama");
    }

    @Test
    void missingConfigIsExplained(@org.junit.jupiter.api.io.TempDir Path dir) {
        assertThatThrownBy(() -> ModelConfig.load(dir)).hasMessageContaining("no config.json in");
    }
}
