package dev.pdserve.model.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.model.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A checkpoint with random bf16 weights in the Hugging Face layout of a real Llama or
 * DeepSeek-V3 model (same config.json fields, tensor names and shapes), for benchmarks at sizes
 * no golden model has. Matrices are normal(0, 0.02) and norms 1, so activations stay finite.
 * Every tensor's values depend only on the seed and its name.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {}

    public static final List<String> ARCHS = List.of("llama", "deepseek_v3");
    public static final List<String> PRESETS = List.of("tiny", "1b");
    /** Files copied from the tokenizer folder so the checkpoint loads like a real model. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json");

    private static final double WEIGHT_STD = 0.02;

    /** Sizes of the checkpoint; the DeepSeek-only fields are ignored for Llama. Mutable so flags can override a preset. */
    public static final class Spec {
        public String arch;
        public int hiddenSize, numLayers, numHeads, numKvHeads, intermediateSize, vocabSize, maxPositions;
        public int qLoraRank, kvLoraRank, qkRopeHeadDim, qkNopeHeadDim, vHeadDim;
        public int nRoutedExperts, nSharedExperts, numExpertsPerTok, moeIntermediateSize, firstKDenseReplace, nGroup, topkGroup;
        /** DeepSeek-V3's multi-token-prediction layers ({@code num_nextn_predict_layers}), written after the decoder layers. */
        public int numMtpLayers;

        public boolean isDeepseek() { return arch.equals("deepseek_v3"); }

        public int headDim() { return hiddenSize / numHeads; }

        void check() {
            if (!ARCHS.contains(arch)) throw new IllegalArgumentException("--arch must be one of " + ARCHS + ", not '" + arch + "'");
            if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || intermediateSize <= 0 || vocabSize <= 0) {
                throw new IllegalArgumentException("sizes must be positive");
            }
            if (numMtpLayers < 0 || (numMtpLayers > 0 && !isDeepseek())) {
                throw new IllegalArgumentException("MTP layers (num_nextn_predict_layers) are DeepSeek-V3's, not " + arch + "'s: got " + numMtpLayers);
            }
            if (!isDeepseek()) {
                if (hiddenSize % numHeads != 0) throw new IllegalArgumentException("hidden size " + hiddenSize + " is not a multiple of " + numHeads + " heads");
                if (numKvHeads <= 0 || numHeads % numKvHeads != 0) throw new IllegalArgumentException(numHeads + " heads are not a multiple of " + numKvHeads + " kv heads");
            } else if (nRoutedExperts > 0 && (nGroup <= 0 || nRoutedExperts % nGroup != 0 || topkGroup > nGroup
                    || numExpertsPerTok > nRoutedExperts)) {
                throw new IllegalArgumentException("experts: " + nRoutedExperts + " routed in " + nGroup + " groups (top " + topkGroup
                        + "), " + numExpertsPerTok + " per token is not a valid routing");
            }
        }
    }

    /** The named preset; {@code 1b} Llama is the benchmark model (1.24 B parameters). */
    public static Spec preset(String arch, String preset) {
        Spec s = new Spec();
        s.arch = arch;
        boolean big = switch (preset) {
            case "1b" -> true;
            case "tiny" -> false;
            default -> throw new IllegalArgumentException("--preset must be one of " + PRESETS + ", not '" + preset + "'");
        };
        switch (arch) {
            case "llama" -> {
                if (big) set(s, 2048, 16, 32, 8, 8192, 32000, 2048);
                else set(s, 256, 4, 8, 2, 768, 4096, 1024);
            }
            case "deepseek_v3" -> {
                if (big) {
                    set(s, 2048, 10, 16, 16, 8192, 32000, 2048);
                    mla(s, 768, 512, 64, 128, 128);
                    moe(s, 64, 1, 8, 256, 1, 8, 4);
                } else {
                    set(s, 256, 4, 4, 4, 512, 4096, 1024);
                    mla(s, 96, 64, 16, 32, 32);
                    moe(s, 8, 1, 2, 96, 1, 4, 2);
                }
            }
            default -> throw new IllegalArgumentException("--arch must be one of " + ARCHS + ", not '" + arch + "'");
        }
        return s;
    }

    private static void set(Spec s, int hidden, int layers, int heads, int kvHeads, int inter, int vocab, int maxPos) {
        s.hiddenSize = hidden; s.numLayers = layers; s.numHeads = heads; s.numKvHeads = kvHeads;
        s.intermediateSize = inter; s.vocabSize = vocab; s.maxPositions = maxPos;
    }

    private static void mla(Spec s, int qLora, int kvLora, int rope, int nope, int v) {
        s.qLoraRank = qLora; s.kvLoraRank = kvLora; s.qkRopeHeadDim = rope; s.qkNopeHeadDim = nope; s.vHeadDim = v;
    }

    private static void moe(Spec s, int experts, int shared, int perTok, int moeInter, int firstDense, int groups, int topkGroups) {
        s.nRoutedExperts = experts; s.nSharedExperts = shared; s.numExpertsPerTok = perTok; s.moeIntermediateSize = moeInter;
        s.firstKDenseReplace = firstDense; s.nGroup = groups; s.topkGroup = topkGroups;
    }

    /** config.json with the field set transformers writes for the architecture. */
    public static ObjectNode config(Spec s) {
        s.check();
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("_name_or_path", "");
        c.putArray("architectures").add(s.isDeepseek() ? "DeepseekV3ForCausalLM" : "LlamaForCausalLM");
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", 0);
        c.put("chunk_size_feed_forward", 0);
        c.put("dtype", "bfloat16");
        c.put("eos_token_id", 1);
        if (s.isDeepseek()) {
            c.put("ep_size", 1);
            c.put("first_k_dense_replace", s.firstKDenseReplace);
            c.put("head_dim", s.qkRopeHeadDim);
        } else {
            c.put("head_dim", s.headDim());
        }
        c.put("hidden_act", "silu");
        c.put("hidden_size", s.hiddenSize);
        c.putObject("id2label").put("0", "LABEL_0").put("1", "LABEL_1");
        c.put("initializer_range", WEIGHT_STD);
        c.put("intermediate_size", s.intermediateSize);
        c.put("is_encoder_decoder", false);
        if (s.isDeepseek()) c.put("kv_lora_rank", s.kvLoraRank);
        c.putObject("label2id").put("LABEL_0", 0).put("LABEL_1", 1);
        c.put("max_position_embeddings", s.maxPositions);
        if (!s.isDeepseek()) c.put("mlp_bias", false);
        c.put("model_type", s.arch);
        if (s.isDeepseek()) {
            c.put("moe_intermediate_size", s.moeIntermediateSize);
            c.put("moe_layer_freq", 1);
            c.put("n_group", s.nGroup);
            c.put("n_routed_experts", s.nRoutedExperts);
            c.put("n_shared_experts", s.nSharedExperts);
            c.put("norm_topk_prob", true);
        }
        c.put("num_attention_heads", s.numHeads);
        if (s.isDeepseek()) c.put("num_experts_per_tok", s.numExpertsPerTok);
        c.put("num_hidden_layers", s.numLayers);
        c.put("num_key_value_heads", s.isDeepseek() ? s.numHeads : s.numKvHeads);
        if (s.isDeepseek()) c.put("num_nextn_predict_layers", s.numMtpLayers);
        c.put("output_attentions", false);
        c.put("output_hidden_states", false);
        c.putNull("pad_token_id");
        c.put("pretraining_tp", 1);
        c.putNull("problem_type");
        if (s.isDeepseek()) {
            c.put("q_lora_rank", s.qLoraRank);
            c.put("qk_head_dim", s.qkNopeHeadDim + s.qkRopeHeadDim);
            c.put("qk_nope_head_dim", s.qkNopeHeadDim);
            c.put("qk_rope_head_dim", s.qkRopeHeadDim);
        }
        c.put("return_dict", true);
        c.put("rms_norm_eps", s.isDeepseek() ? 1e-6 : 1e-5);
        if (s.isDeepseek()) {
            c.put("rope_interleave", true);
            // YaRN scaled 4x from a quarter of the context, like the golden DeepSeek model.
            ObjectNode scaling = c.objectNode().put("beta_fast", 32.0).put("beta_slow", 1.0).put("factor", 4.0)
                    .put("mscale", 1.0).put("mscale_all_dim", 1.0).put("original_max_position_embeddings", s.maxPositions / 4);
            c.set("rope_parameters", scaling.deepCopy().put("rope_theta", 10000.0).put("rope_type", "yarn").put("type", "yarn"));
            c.set("rope_scaling", scaling.put("type", "yarn"));
            c.put("rope_theta", 10000.0);
            c.put("routed_scaling_factor", 2.5);
            c.put("scoring_func", "sigmoid");
        } else {
            c.putObject("rope_parameters").put("rope_theta", 500000.0).put("rope_type", "default");
            c.putNull("rope_scaling");
            c.put("rope_theta", 500000.0);
        }
        c.put("tie_word_embeddings", false);
        if (s.isDeepseek()) {
            c.put("topk_group", s.topkGroup);
            c.put("topk_method", "noaux_tc");
        }
        c.put("torch_dtype", "bfloat16");
        c.put("transformers_version", "5.17.0");
        c.put("use_cache", true);
        if (s.isDeepseek()) c.put("v_head_dim", s.vHeadDim);
        c.put("vocab_size", s.vocabSize);
        return c;
    }

    /** The tensors of the checkpoint with their random sources, in model order. */
    public static SafetensorsWriter tensors(Spec s, long seed) {
        s.check();
        var w = new Tensors(new SafetensorsWriter(), seed);
        int h = s.hiddenSize;
        w.matrix("model.embed_tokens.weight", s.vocabSize, h);
        for (int l = 0; l < s.numLayers; l++) decoderLayer(w, s, "model.layers." + l + ".", l);
        w.ones("model.norm.weight", h);
        w.matrix("lm_head.weight", s.vocabSize, h);
        // DeepSeek-V3's MTP modules as published: model.layers.{num_hidden_layers + i}.* with their own embedding copy,
        // enorm/hnorm, eh_proj over [embedding; hidden], a full decoder layer and the shared head.
        for (int m = 0; m < s.numMtpLayers; m++) {
            int l = s.numLayers + m;
            String p = "model.layers." + l + ".";
            w.matrix(p + "embed_tokens.weight", s.vocabSize, h);
            w.ones(p + "enorm.weight", h);
            w.ones(p + "hnorm.weight", h);
            w.matrix(p + "eh_proj.weight", h, 2 * h);
            decoderLayer(w, s, p, l);
            w.ones(p + "shared_head.norm.weight", h);
            w.matrix(p + "shared_head.head.weight", s.vocabSize, h);
        }
        return w.writer;
    }

    /** One decoder layer's tensors under {@code p} (layer index {@code l} decides dense or MoE). */
    private static void decoderLayer(Tensors w, Spec s, String p, int l) {
        int h = s.hiddenSize;
        w.ones(p + "input_layernorm.weight", h);
        if (s.isDeepseek()) {
            int qk = s.qkNopeHeadDim + s.qkRopeHeadDim;
            if (s.qLoraRank > 0) {
                w.matrix(p + "self_attn.q_a_proj.weight", s.qLoraRank, h);
                w.ones(p + "self_attn.q_a_layernorm.weight", s.qLoraRank);
                w.matrix(p + "self_attn.q_b_proj.weight", s.numHeads * qk, s.qLoraRank);
            } else {
                w.matrix(p + "self_attn.q_proj.weight", s.numHeads * qk, h);
            }
            w.matrix(p + "self_attn.kv_a_proj_with_mqa.weight", s.kvLoraRank + s.qkRopeHeadDim, h);
            w.ones(p + "self_attn.kv_a_layernorm.weight", s.kvLoraRank);
            w.matrix(p + "self_attn.kv_b_proj.weight", s.numHeads * (s.qkNopeHeadDim + s.vHeadDim), s.kvLoraRank);
            w.matrix(p + "self_attn.o_proj.weight", h, s.numHeads * s.vHeadDim);
        } else {
            int hd = s.headDim();
            w.matrix(p + "self_attn.q_proj.weight", s.numHeads * hd, h);
            w.matrix(p + "self_attn.k_proj.weight", s.numKvHeads * hd, h);
            w.matrix(p + "self_attn.v_proj.weight", s.numKvHeads * hd, h);
            w.matrix(p + "self_attn.o_proj.weight", h, s.numHeads * hd);
        }
        w.ones(p + "post_attention_layernorm.weight", h);
        if (s.isDeepseek() && s.nRoutedExperts > 0 && l >= s.firstKDenseReplace) {
            for (int e = 0; e < s.nRoutedExperts; e++) w.mlp(p + "mlp.experts." + e + ".", h, s.moeIntermediateSize);
            w.matrix(p + "mlp.gate.weight", s.nRoutedExperts, h);
            w.zeros(p + "mlp.gate.e_score_correction_bias", s.nRoutedExperts);
            if (s.nSharedExperts > 0) w.mlp(p + "mlp.shared_experts.", h, s.moeIntermediateSize * s.nSharedExperts);
        } else {
            w.mlp(p + "mlp.", h, s.intermediateSize);
        }
    }

    /** Parameters of the checkpoint, counted from the tensors it would write. */
    public static long parameterCount(Spec s) {
        return tensors(s, 0).entries().stream().mapToLong(SafetensorsWriter.Entry::numel).sum();
    }

    /**
     * Writes config.json, the weights (sharded above {@code maxShardBytes} when it is positive) and
     * the tokenizer files of {@code tokenizerDir} into {@code out}. The tokenizer's ids must all be
     * below the vocabulary size.
     */
    public static void write(Spec s, Path out, long seed, long maxShardBytes, Path tokenizerDir) throws IOException {
        ObjectNode config = config(s);
        int tokenizerVocab = tokenizerVocabSize(tokenizerDir);
        if (tokenizerVocab > s.vocabSize) {
            throw new IllegalArgumentException("vocab size " + s.vocabSize + " is smaller than the tokenizer's " + tokenizerVocab + " ids in " + tokenizerDir);
        }
        Files.createDirectories(out);
        ObjectMapper json = new ObjectMapper();
        Files.writeString(out.resolve("config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        for (String f : TOKENIZER_FILES) {
            if (Files.exists(tokenizerDir.resolve(f))) Files.copy(tokenizerDir.resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        tensors(s, seed).writeSharded(out, maxShardBytes);
    }

    /** One more than the largest id in tokenizer.json (vocabulary and added tokens). */
    static int tokenizerVocabSize(Path tokenizerDir) throws IOException {
        Path file = tokenizerDir.resolve("tokenizer.json");
        if (!Files.exists(file)) throw new IllegalArgumentException("no tokenizer.json in " + tokenizerDir);
        var root = new ObjectMapper().readTree(file.toFile());
        int max = -1;
        for (var id : root.path("model").path("vocab")) max = Math.max(max, id.asInt());
        for (var t : root.path("added_tokens")) max = Math.max(max, t.path("id").asInt());
        return max + 1;
    }

    /** Declares tensors with their generators. */
    private record Tensors(SafetensorsWriter writer, long seed) {
        void matrix(String name, int rows, int cols) {
            long tensorSeed = seed ^ mix(name.hashCode() * 0x9E3779B97F4A7C15L);
            writer.add(name, DType.BF16, new long[] {rows, cols}, sink -> NormalBf16.STD_002.fill(sink, (long) rows * cols, tensorSeed));
        }

        void mlp(String prefix, int hidden, int inter) {
            matrix(prefix + "gate_proj.weight", inter, hidden);
            matrix(prefix + "up_proj.weight", inter, hidden);
            matrix(prefix + "down_proj.weight", hidden, inter);
        }

        void ones(String name, int n) { constant(name, n, (short) 0x3F80); }

        void zeros(String name, int n) { constant(name, n, (short) 0); }

        private void constant(String name, int n, short bf16) {
            writer.add(name, DType.BF16, new long[] {n}, sink -> { for (int i = 0; i < n; i++) sink.putShort(bf16); });
        }
    }

    /** SplitMix64's finaliser: a cheap, well-mixed 64-bit hash. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Normal samples in bf16, fast: a table of the 65,536 quantiles of normal(0, std) indexed by 16
     * random bits, so one 64-bit SplitMix64 step yields four values (tails cut at about 4.3 sigma).
     */
    static final class NormalBf16 {
        static final NormalBf16 STD_002 = new NormalBf16(WEIGHT_STD);
        private static final int CHUNK_VALUES = 1 << 19;

        private final short[] table = new short[1 << 16];

        NormalBf16(double std) {
            for (int i = 0; i < table.length; i++) {
                table[i] = toBf16((float) (std * inverseNormalCdf((i + 0.5) / table.length)));
            }
        }

        void fill(SafetensorsWriter.Sink sink, long count, long seed) throws IOException {
            ByteBuffer chunk = ByteBuffer.allocate(CHUNK_VALUES * 2).order(ByteOrder.LITTLE_ENDIAN);
            short[] values = new short[CHUNK_VALUES];
            long state = seed;
            for (long done = 0; done < count; ) {
                int n = (int) Math.min(CHUNK_VALUES, count - done);
                for (int i = 0; i < n; i += 4) {
                    state += 0x9E3779B97F4A7C15L;
                    long r = mix(state);
                    values[i] = table[(int) (r & 0xFFFF)];
                    if (i + 1 < n) values[i + 1] = table[(int) ((r >>> 16) & 0xFFFF)];
                    if (i + 2 < n) values[i + 2] = table[(int) ((r >>> 32) & 0xFFFF)];
                    if (i + 3 < n) values[i + 3] = table[(int) (r >>> 48)];
                }
                chunk.clear();
                chunk.asShortBuffer().put(values, 0, n);
                chunk.limit(n * 2);
                sink.write(chunk);
                done += n;
            }
        }

        /** Round to nearest even, as torch does when casting fp32 to bf16. */
        static short toBf16(float f) {
            int bits = Float.floatToRawIntBits(f);
            return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
        }

        /** Acklam's rational approximation of the normal quantile (relative error below 1.2e-9). */
        static double inverseNormalCdf(double p) {
            double[] a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
            double[] b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01};
            double[] c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
            double[] d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
            double low = 0.02425;
            if (p < low) {
                double q = Math.sqrt(-2 * Math.log(p));
                return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
            }
            if (p > 1 - low) return -inverseNormalCdf(1 - p);
            double q = p - 0.5, r = q * q;
            return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
    }
}
