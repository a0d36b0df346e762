package dev.pdserve.model;

import dev.pdserve.TestModels;
import dev.pdserve.model.checkpoint.RandomCheckpoint;
import dev.pdserve.model.checkpoint.SafetensorsWriter;
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
import static org.assertj.core.api.Assertions.within;

/**
 * Checkpoint shapes the golden folders do not have: F32 and F16 weights, shards, DeepSeek without
 * q_lora, and the Llama-graph variants Qwen2 (q/k/v bias) and Mistral (sliding window).
 */
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
        // bf16 values widen exactly to f32, so only the kernels' summation orders differ (f32 is
        // row-major, bf16 in panels): the logits agree to rounding.
        float[] f32 = lastLogits(rewrite(DType.F32, 0), p.inputIds());
        assertThat(f32).containsExactly(bf16, within(1e-4f));
        Path sharded = rewrite(DType.F32, 4 << 20);
        assertThat(sharded.resolve("model.safetensors.index.json")).exists();
        try (var files = Files.list(sharded)) {
            assertThat(files.filter(f -> f.getFileName().toString().startsWith("model-000")).count()).isGreaterThan(2);
        }
        assertThat(lastLogits(sharded, p.inputIds())).containsExactly(f32); // same kernels: bit for bit
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

    /** llama-tiny's weights under another {@code model_type}, with extra config fields and extra (F32) tensors. */
    private Path variant(String name, String modelType, String extraConfig, java.util.Map<String, float[]> extraTensors) throws IOException {
        Path out = tmp.resolve(name);
        Files.createDirectories(out);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "model.safetensors"}) {
            Files.copy(TestModels.llama().resolve(f), out.resolve(f));
        }
        String config = Files.readString(TestModels.llama().resolve("config.json"))
                .replace("\"model_type\": \"llama\"", "\"model_type\": \"" + modelType + "\"" + extraConfig);
        assertThat(config).contains("\"" + modelType + "\"");
        Files.writeString(out.resolve("config.json"), config);
        if (!extraTensors.isEmpty()) {
            try (Arena arena = Arena.ofShared()) {
                SafetensorsWriter w = new SafetensorsWriter();
                for (var e : extraTensors.entrySet()) {
                    MemorySegment seg = arena.allocate(4L * e.getValue().length);
                    for (int i = 0; i < e.getValue().length; i++) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, e.getValue()[i]);
                    w.add(e.getKey(), DType.F32, new long[] {e.getValue().length}, seg);
                }
                w.write(out.resolve("bias.safetensors"));
            }
            // Two files: an index maps every tensor to its file, as sharded checkpoints do.
            Files.move(out.resolve("model.safetensors"), out.resolve("weights.safetensors"));
            StringBuilder map = new StringBuilder("{\"weight_map\": {");
            try (SafeTensors st = SafeTensors.open(TestModels.llama())) {
                for (String n : st.names()) map.append('"').append(n).append("\": \"weights.safetensors\", ");
            }
            for (String n : extraTensors.keySet()) map.append('"').append(n).append("\": \"bias.safetensors\", ");
            map.setLength(map.length() - 2);
            Files.writeString(out.resolve("model.safetensors.index.json"), map.append("}}").toString());
        }
        return out;
    }

    /** The last logits after a prefill of {@code prefill} tokens and then the rest one token per forward (the decode path). */
    private static float[] prefillThenOneByOne(Path dir, int[] ids, int prefill) {
        try (CausalLM m = ModelLoader.load(dir, LoadOptions.defaults()); SingleSequence s = new SingleSequence(m, ids.length)) {
            float[] last = s.feed(Arrays.copyOf(ids, prefill));
            for (int i = prefill; i < ids.length; i++) last = s.feed(ids[i]);
            return last.clone();
        }
    }

    private static int[] prompt(int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i == 0 ? 0 : 3 + (i * 37) % 900;
        return ids;
    }

    @Test
    void qwen2WithZeroBiasIsLlamaAndItsBiasIsApplied() throws IOException {
        ModelConfig c = ModelConfig.load(TestModels.llama());
        int q = c.numHeads() * c.headDim(), kv = c.numKvHeads() * c.headDim();
        java.util.Map<String, float[]> zero = new java.util.LinkedHashMap<>(), some = new java.util.LinkedHashMap<>();
        java.util.Random rnd = new java.util.Random(5);
        for (int l = 0; l < c.numLayers(); l++) {
            String a = "model.layers." + l + ".self_attn.";
            zero.put(a + "q_proj.bias", new float[q]); zero.put(a + "k_proj.bias", new float[kv]); zero.put(a + "v_proj.bias", new float[kv]);
            for (String t : new String[] {"q_proj", "k_proj", "v_proj"}) {
                float[] b = new float[t.equals("q_proj") ? q : kv];
                for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextGaussian() * 0.5f;
                some.put(a + t + ".bias", b);
            }
        }
        int[] ids = prompt(24);
        float[] llama = lastLogits(TestModels.llama(), ids);
        assertThat(lastLogits(variant("qwen2-zero", "qwen2", "", zero), ids)).containsExactly(llama);
        Path biased = variant("qwen2-bias", "qwen2", "", some);
        float[] whole = lastLogits(biased, ids);
        assertThat(SingleSequence.maxAbsDiff(whole, llama)).isGreaterThan(1e-2f);
        assertThat(prefillThenOneByOne(biased, ids, 20)).containsExactly(whole);
    }

    @Test
    void mistralSlidingWindowLimitsWhatEachTokenSees() throws IOException {
        int[] ids = prompt(40);
        float[] llama = lastLogits(TestModels.llama(), ids);
        // A window longer than the prompt changes nothing.
        assertThat(lastLogits(variant("mistral-64", "mistral", ", \"sliding_window\": 64", java.util.Map.of()), ids)).containsExactly(llama);
        // A window of 1: every token attends only to itself in every layer (one key, weight exactly 1,
        // and RoPE cancels for q and k at the same position), so the last logits are those of the
        // last token alone at position 0, whatever came before it.
        Path one = variant("mistral-1", "mistral", ", \"sliding_window\": 1", java.util.Map.of());
        assertThat(lastLogits(one, ids)).containsExactly(lastLogits(one, new int[] {ids[ids.length - 1]}));
        // A window of 8: different from full attention, and the same whether the prompt comes at once or token by token.
        Path eight = variant("mistral-8", "mistral", ", \"sliding_window\": 8", java.util.Map.of());
        float[] whole = lastLogits(eight, ids);
        assertThat(SingleSequence.maxAbsDiff(whole, llama)).isGreaterThan(1e-3f);
        assertThat(prefillThenOneByOne(eight, ids, 5)).containsExactly(whole);
    }
}
