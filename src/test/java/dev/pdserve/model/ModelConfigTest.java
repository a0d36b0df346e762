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
    void llama3RopeSmoothsTheMiddleFrequencies() throws Exception {
        // Llama 3.1's published rope_scaling; expected values from transformers' formula evaluated independently.
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(
                "{\"rope_theta\": 500000.0, \"max_position_embeddings\": 131072, \"rope_scaling\": {\"rope_type\": \"llama3\","
                + " \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}");
        double[] inv = RopeConfig.parse(cfg, "test").inverseFrequencies(64);
        assertThat(inv[0]).isEqualTo(1.0);
        assertThat(inv[10]).isCloseTo(0.016560440080994446, within(1e-15));
        assertThat(inv[15]).isCloseTo(0.0013718935677611381, within(1e-15));
        assertThat(inv[20]).isCloseTo(3.428102195952591e-05, within(1e-18));
        assertThat(inv[31]).isCloseTo(3.7673226901739635e-07, within(1e-20));
    }

    @Test
    void ropeParametersAndLegacyRopeScalingAgree() throws Exception {
        ObjectMapper om = new ObjectMapper();
        RopeConfig modern = RopeConfig.parse(om.readTree("{\"max_position_embeddings\": 1024, \"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 10000.0, \"factor\": 4.0, \"original_max_position_embeddings\": 256, \"mscale\": 1.0, \"mscale_all_dim\": 1.0}}"), "a");
        RopeConfig legacy = RopeConfig.parse(om.readTree("{\"max_position_embeddings\": 1024, \"rope_theta\": 10000.0, \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 256, \"mscale\": 1.0, \"mscale_all_dim\": 1.0}}"), "b");
        assertThat(modern.inverseFrequencies(16)).containsExactly(legacy.inverseFrequencies(16));
        assertThat(modern.cosSinScale()).isEqualTo(legacy.cosSinScale());
        assertThatThrownBy(() -> RopeConfig.parse(om.readTree("{\"rope_scaling\": {\"type\": \"dynamic\"}}"), "c.json"))
                .hasMessageContaining("c.json: rope type 'dynamic' is not supported");
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
