package dev.pdserve.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import dev.pdserve.model.checkpoint.RandomCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RandomCheckpointTest {
    @TempDir Path dir;

    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static Map<String, String> shapes(Path modelDir) {
        Map<String, String> m = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(modelDir)) {
            for (String n : st.names()) m.put(n, st.get(n).toString());
        }
        return m;
    }

    @Test
    void tinyPresetsAreTheGoldenModelsLayout() throws IOException {
        var json = new ObjectMapper();
        for (var gold : Map.of("llama", TestModels.llama(), "deepseek_v3", TestModels.deepseek()).entrySet()) {
            Path out = dir.resolve(gold.getKey());
            RandomCheckpoint.write(RandomCheckpoint.preset(gold.getKey(), "tiny"), out, 7, 0, TestModels.deepseek());
            assertThat(json.readTree(out.resolve("config.json").toFile()))
                    .as(gold.getKey() + " config.json").isEqualTo(json.readTree(gold.getValue().resolve("config.json").toFile()));
            assertThat(shapes(out)).as(gold.getKey() + " tensors").containsExactlyInAnyOrderEntriesOf(shapes(gold.getValue()));
            assertThat(out.resolve("tokenizer.json")).hasSameBinaryContentAs(TestModels.deepseek().resolve("tokenizer.json"));
            assertThat(out.resolve("tokenizer_config.json")).exists();
        }
    }

    @Test
    void parameterCountsOfTheBenchmarkPresets() {
        // Llama 1B: embeddings and lm_head 2 x 32000 x 2048; per layer q,o 2048^2, k,v 512 x 2048,
        // MLP 3 x 2048 x 8192, two norms; final norm.
        long h = 2048, perLayer = 2 * h * h + 2 * 512 * h + 3 * h * 8192 + 2 * h;
        assertThat(RandomCheckpoint.parameterCount(RandomCheckpoint.preset("llama", "1b")))
                .isEqualTo(2 * 32000 * h + 16 * perLayer + h).isEqualTo(1_104_218_112L);

        // DeepSeek 1B: MLA (q_lora 768, kv_lora 512, 16 heads of nope 128 + rope 64, v 128), one
        // dense layer, nine MoE layers of 64 + 1 experts of 256.
        long attn = 768 * h + 768 + 16 * 192 * 768 + 576 * h + 512 + 16 * 256 * 512 + h * 16 * 128 + 2 * h;
        long dense = 3 * h * 8192, moe = 65 * 3 * h * 256 + 64 * h + 64;
        assertThat(RandomCheckpoint.parameterCount(RandomCheckpoint.preset("deepseek_v3", "1b")))
                .isEqualTo(2 * 32000 * h + 10 * attn + dense + 9 * moe + h);
    }

    @Test
    void overriddenSizesShapeTheTensorsAndShard() throws IOException {
        var s = RandomCheckpoint.preset("deepseek_v3", "tiny");
        s.numLayers = 3;
        s.nRoutedExperts = 4;
        s.nGroup = 2;
        s.topkGroup = 1;
        s.qLoraRank = 0;
        s.vocabSize = 5000;
        RandomCheckpoint.write(s, dir, 1, 2 << 20, TestModels.deepseek());
        assertThat(dir.resolve("model.safetensors.index.json")).exists();
        ModelConfig c = ModelConfig.load(dir);
        assertThat(c.vocabSize()).isEqualTo(5000);
        assertThat(c.mla().qLoraRank()).isZero();
        assertThat(c.moe().nRoutedExperts()).isEqualTo(4);
        Map<String, String> t = shapes(dir);
        assertThat(t).containsKey("model.layers.2.mlp.experts.3.up_proj.weight")
                .doesNotContainKey("model.layers.2.mlp.experts.4.up_proj.weight")
                .doesNotContainKey("model.layers.0.self_attn.q_a_proj.weight")
                .containsEntry("model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.weight BF16[192, 256]")
                .containsEntry("lm_head.weight", "lm_head.weight BF16[5000, 256]");
    }

    @Test
    void weightsAreNormalNormsAreOneAndTheSeedDecides() throws IOException {
        var s = RandomCheckpoint.preset("llama", "tiny");
        s.numLayers = 1;
        RandomCheckpoint.write(s, dir.resolve("a"), 42, 0, TestModels.deepseek());
        RandomCheckpoint.write(s, dir.resolve("b"), 42, 0, TestModels.deepseek());
        RandomCheckpoint.write(s, dir.resolve("c"), 43, 0, TestModels.deepseek());
        assertThat(dir.resolve("a/model.safetensors")).hasSameBinaryContentAs(dir.resolve("b/model.safetensors"));
        assertThat(Files.mismatch(dir.resolve("a/model.safetensors"), dir.resolve("c/model.safetensors"))).isNotEqualTo(-1L);
        try (SafeTensors st = SafeTensors.open(dir.resolve("a"))) {
            var w = st.get("model.layers.0.mlp.up_proj.weight").data();
            long n = w.byteSize() / 2;
            double sum = 0, sq = 0;
            for (long i = 0; i < n; i++) {
                float v = Float.intBitsToFloat(w.get(BF16, 2 * i) << 16);
                sum += v;
                sq += v * v;
            }
            double mean = sum / n, std = Math.sqrt(sq / n - mean * mean);
            assertThat(mean).isBetween(-0.001, 0.001);
            assertThat(std).isBetween(0.0195, 0.0205);
            var norm = st.get("model.layers.0.input_layernorm.weight").data();
            for (long i = 0; i < norm.byteSize() / 2; i++) assertThat(norm.get(BF16, 2 * i)).isEqualTo((short) 0x3F80);
            // Two matrices of the same shape differ: each tensor has its own stream.
            assertThat(st.get("model.layers.0.mlp.gate_proj.weight").data().mismatch(w)).isNotEqualTo(-1L);
        }
    }

    @Test
    void theCheckpointLoadsAndGivesFiniteLogits() throws IOException {
        for (String arch : RandomCheckpoint.ARCHS) {
            Path out = dir.resolve(arch);
            RandomCheckpoint.write(RandomCheckpoint.preset(arch, "tiny"), out, 3, 0, TestModels.deepseek());
            try (CausalLM model = ModelLoader.load(out, LoadOptions.defaults().withThreads(1));
                 SingleSequence seq = new SingleSequence(model, 32)) {
                float[] logits = seq.feed(0, 17, 300, 4000, 5);
                for (float v : logits) assertThat(Float.isFinite(v)).isTrue();
                for (int i = 0; i < 8; i++) logits = seq.feed(SingleSequence.argmax(logits));
                for (float v : logits) assertThat(Float.isFinite(v)).isTrue();
                assertThat(SingleSequence.maxAbsDiff(logits, new float[logits.length])).as(arch + " logits not all zero").isGreaterThan(0.01f);
            }
        }
    }

    @Test
    void aVocabularySmallerThanTheTokenizerIsRefused() {
        var s = RandomCheckpoint.preset("llama", "tiny");
        s.vocabSize = 1000;
        assertThatThrownBy(() -> RandomCheckpoint.write(s, dir, 0, 0, TestModels.deepseek()))
                .hasMessageContaining("vocab size 1000").hasMessageContaining("4096");
        var bad = RandomCheckpoint.preset("llama", "tiny");
        bad.numKvHeads = 3;
        assertThatThrownBy(() -> RandomCheckpoint.config(bad)).hasMessageContaining("kv heads");
        assertThatThrownBy(() -> RandomCheckpoint.preset("gpt2", "tiny")).hasMessageContaining("--arch");
        assertThatThrownBy(() -> RandomCheckpoint.preset("llama", "7b")).hasMessageContaining("--preset");
    }

    private static String dtypeShape(String tensor) { return tensor == null ? null : tensor.substring(tensor.indexOf(' ') + 1); }

    /** DeepSeek-V3's MTP layer as published: layer num_hidden_layers with embed_tokens, enorm, hnorm, eh_proj, a decoder layer, shared_head. */
    @Test
    void mtpLayersAreWrittenAfterTheDecoderLayersAndTheMainModelIgnoresThem() throws IOException {
        var s = RandomCheckpoint.preset("deepseek_v3", "tiny");
        s.numMtpLayers = 1;
        Path mtp = dir.resolve("mtp"), plain = dir.resolve("plain");
        RandomCheckpoint.write(s, mtp, 5, 0, TestModels.deepseek());
        RandomCheckpoint.write(RandomCheckpoint.preset("deepseek_v3", "tiny"), plain, 5, 0, TestModels.deepseek());
        assertThat(ModelConfig.load(mtp).numLayers()).isEqualTo(4);
        assertThat(java.nio.file.Files.readString(mtp.resolve("config.json"))).contains("\"num_nextn_predict_layers\" : 1");
        Map<String, String> m = shapes(mtp), p = shapes(plain);
        String l = "model.layers.4.";
        assertThat(dtypeShape(m.get(l + "embed_tokens.weight"))).isEqualTo(dtypeShape(p.get("model.embed_tokens.weight")));
        assertThat(m.get(l + "enorm.weight")).contains("[256]");
        assertThat(m.get(l + "hnorm.weight")).contains("[256]");
        assertThat(m.get(l + "eh_proj.weight")).contains("[256, 512]");
        assertThat(m.get(l + "shared_head.norm.weight")).contains("[256]");
        assertThat(dtypeShape(m.get(l + "shared_head.head.weight"))).isEqualTo(dtypeShape(p.get("lm_head.weight")));
        for (String name : p.keySet()) {
            if (name.startsWith("model.layers.3.")) {
                assertThat(dtypeShape(m.get(name.replace("model.layers.3.", l)))).as(name + " in the MTP block").isEqualTo(dtypeShape(p.get(name)));
            }
            assertThat(m.get(name)).as(name).isEqualTo(p.get(name));
        }
        // The main model's weights depend on the seed and their names only: the same logits with or without the MTP layer.
        try (CausalLM a = ModelLoader.load(mtp, LoadOptions.defaults().withThreads(1)); SingleSequence sa = new SingleSequence(a, 32);
             CausalLM b = ModelLoader.load(plain, LoadOptions.defaults().withThreads(1)); SingleSequence sb = new SingleSequence(b, 32)) {
            assertThat(sa.feed(0, 17, 300, 4000, 5)).containsExactly(sb.feed(0, 17, 300, 4000, 5));
        }
        var llama = RandomCheckpoint.preset("llama", "tiny");
        llama.numMtpLayers = 1;
        assertThatThrownBy(() -> RandomCheckpoint.config(llama)).hasMessageContaining("DeepSeek-V3's");
    }
}
