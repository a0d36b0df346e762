package dev.pdserve.kv;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The fingerprint tells models apart, is stable, and ignores fields that do not change the KV. */
class ModelFingerprintTest {
    @Test
    void distinguishesModelsAndIgnoresBookkeeping(@TempDir Path tmp) throws Exception {
        String deepseek = ModelFingerprint.of(TestModels.deepseek());
        assertThat(deepseek).matches("sha256:[0-9a-f]{32}");
        assertThat(ModelFingerprint.of(TestModels.deepseek())).isEqualTo(deepseek);
        assertThat(ModelFingerprint.of(TestModels.llama())).isNotEqualTo(deepseek);

        Path copy = tmp.resolve("copy");
        Files.createDirectories(copy);
        Files.copy(TestModels.deepseek().resolve("model.safetensors"), copy.resolve("model.safetensors"));
        String config = Files.readString(TestModels.deepseek().resolve("config.json"));
        Files.writeString(copy.resolve("config.json"), config.replace("\"transformers_version\": \"5.17.0\"", "\"transformers_version\": \"4.0.0\""));
        assertThat(ModelFingerprint.of(copy)).as("a re-saved config").isEqualTo(deepseek);
        Files.writeString(copy.resolve("config.json"), config.replace("\"rope_theta\": 10000.0,\n  \"routed", "\"rope_theta\": 20000.0,\n  \"routed"));
        assertThat(Files.readString(copy.resolve("config.json"))).isNotEqualTo(config);
        assertThat(ModelFingerprint.of(copy)).as("another RoPE base").isNotEqualTo(deepseek);
    }
}
