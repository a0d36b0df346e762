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

    private HfPromptTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, int[] specialIds) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.specialIds = specialIds;
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
            return new HfPromptTokenizer(hf, vocab, special.stream().mapToInt(Integer::intValue).toArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
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
