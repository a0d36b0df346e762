package dev.pdserve.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** A Hugging Face tokenizer folder (tokenizer.json) read with DJL's bindings of the `tokenizers` library. */
public final class HfPromptTokenizer implements PromptTokenizer, AutoCloseable {
    // DJL probes for CUDA on load and warns when there is none; a benchmark client has no use for that line.
    private static final java.util.logging.Logger DJL_CUDA_LOG = java.util.logging.Logger.getLogger("ai.djl.util.cuda");

    static {
        DJL_CUDA_LOG.setLevel(java.util.logging.Level.SEVERE);
    }

    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final int[] specialIds;
    private final int numSpecialTokensToAdd;

    private HfPromptTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, int[] specialIds, int numSpecialTokensToAdd) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.specialIds = specialIds;
        this.numSpecialTokensToAdd = numSpecialTokensToAdd;
    }

    /** Loads {@code dir/tokenizer.json} (or {@code dir} itself when it is the file). */
    public static HfPromptTokenizer load(Path dir) {
        Path file = Files.isDirectory(dir) ? dir.resolve("tokenizer.json") : dir;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no tokenizer.json in " + dir + " (--tokenizer takes a Hugging Face tokenizer folder)");
        }
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            int vocab = root.path("model").path("vocab").size();
            var special = new java.util.ArrayList<Integer>();
            for (JsonNode t : root.path("added_tokens")) {
                if (t.path("special").asBoolean(false)) special.add(t.path("id").asInt());
            }
            // No BOS/EOS added on encode: prompt lengths count the text only, as vLLM's datasets do.
            var hf = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            return new HfPromptTokenizer(hf, vocab, special.stream().mapToInt(Integer::intValue).toArray(), specialsAdded(hf, root, file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * What the post-processor adds to an empty text, plus the BOS that tokenizer_config.json's
     * {@code add_bos_token: true} adds where the post-processor does not (transformers' Llama tokenizers).
     */
    private static int specialsAdded(HuggingFaceTokenizer hf, JsonNode tokenizerJson, Path file) throws IOException {
        long[] ids = hf.encode("", true, false).getIds();
        Path config = file.resolveSibling("tokenizer_config.json");
        if (Files.isRegularFile(config) && new ObjectMapper().readTree(config.toFile()).path("add_bos_token").asBoolean(false)) {
            int bos = bosId(tokenizerJson, new ObjectMapper().readTree(config.toFile()).path("bos_token"));
            if (bos >= 0 && (ids.length == 0 || ids[0] != bos)) return ids.length + 1;
        }
        return ids.length;
    }

    private static int bosId(JsonNode tokenizerJson, JsonNode bosToken) {
        String content = bosToken.isObject() ? bosToken.path("content").asText(null) : bosToken.asText(null);
        if (content == null) return -1;
        for (JsonNode t : tokenizerJson.path("added_tokens")) if (content.equals(t.path("content").asText())) return t.path("id").asInt();
        return -1;
    }

    @Override
    public int numSpecialTokensToAdd() {
        return numSpecialTokensToAdd;
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = (int) ids[i];
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return tokenizer.decode(l, false);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int[] specialIds() {
        return specialIds.clone();
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
