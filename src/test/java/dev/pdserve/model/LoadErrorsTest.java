package dev.pdserve.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every broken checkpoint gives an error that names the file and the tensor. */
class LoadErrorsTest {
    @TempDir Path dir;

    private void copyConfig() throws IOException {
        Files.copy(TestModels.llama().resolve("config.json"), dir.resolve("config.json"));
    }

    private void writeSafetensors(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(dir.resolve("model.safetensors"), b.array());
    }

    @Test
    void corruptHeaderLength() throws IOException {
        copyConfig();
        Files.write(dir.resolve("model.safetensors"), new byte[] {(byte) 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 1, 2});
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults()))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("model.safetensors").hasMessageContaining("corrupt safetensors header");
    }

    @Test
    void headerThatIsNotJson() throws IOException {
        copyConfig();
        writeSafetensors("{not json", 0);
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults())).hasMessageContaining("corrupt safetensors header (not JSON");
    }

    @Test
    void offsetsPastTheEndOfTheFile() throws IOException {
        copyConfig();
        writeSafetensors("{\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[256],\"data_offsets\":[0,512]}}", 100);
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults()))
                .hasMessageContaining("tensor 'model.norm.weight'").hasMessageContaining("past the end of the data");
    }

    @Test
    void missingTensor() throws IOException {
        copyConfig();
        writeSafetensors("{\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[256],\"data_offsets\":[0,512]}}", 512);
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults()))
                .hasMessageContaining("tensor 'model.embed_tokens.weight' is missing").hasMessageContaining(dir.toString());
    }

    @Test
    void shapeThatDisagreesWithConfig() throws IOException {
        Files.copy(TestModels.llama().resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(TestModels.llama().resolve("config.json").toFile());
        cfg.put("intermediate_size", 1024);
        Files.writeString(dir.resolve("config.json"), cfg.toString());
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults()))
                .hasMessageContaining("tensor 'model.layers.0.mlp.gate_proj.weight'")
                .hasMessageContaining("has shape [768, 256] but config.json implies [1024, 256]");
    }

    @Test
    void unsupportedDtype() throws IOException {
        copyConfig();
        writeSafetensors("{\"model.norm.weight\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults())).hasMessageContaining("unsupported dtype 'C64'");
    }

    @Test
    void shardIndexNamingAMissingFile() throws IOException {
        copyConfig();
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\"}}");
        assertThatThrownBy(() -> ModelLoader.load(dir, LoadOptions.defaults()))
                .hasMessageContaining("names shard model-00001-of-00002.safetensors, which does not exist");
    }

    @Test
    void missingFolder() {
        assertThatThrownBy(() -> ModelLoader.load(dir.resolve("nope"), LoadOptions.defaults())).hasMessageContaining("does not exist");
    }
}
