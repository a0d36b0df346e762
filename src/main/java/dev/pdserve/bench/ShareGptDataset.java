package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * vLLM's "sharegpt" dataset: a JSON array of {"conversations": [{"from","value"}, ...]}; the first turn is the
 * prompt, the second gives the output length (unless --sharegpt-output-len fixes it). Same filters as vLLM:
 * prompt and output of at least 4 tokens, prompt at most 1024, prompt + output at most 2048.
 */
public final class ShareGptDataset {
    private ShareGptDataset() {}

    public static List<SampleRequest> sample(Path file, PromptTokenizer tokenizer, int numRequests,
                                             Integer fixedOutputLen, long seed) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read ShareGPT file " + file + ": " + e.getMessage(), e);
        }
        if (!root.isArray()) throw new IllegalArgumentException(file + " is not a ShareGPT JSON array");
        List<JsonNode> convs = new ArrayList<>();
        for (JsonNode entry : root) if (entry.path("conversations").size() >= 2) convs.add(entry.path("conversations"));
        Collections.shuffle(convs, new Random(seed));

        List<SampleRequest> out = new ArrayList<>(numRequests);
        for (JsonNode conv : convs) {
            if (out.size() == numRequests) break;
            String prompt = conv.get(0).path("value").asText();
            String completion = conv.get(1).path("value").asText();
            int promptLen = tokenizer.encode(prompt).length;
            int outputLen = fixedOutputLen != null ? fixedOutputLen : tokenizer.encode(completion).length;
            boolean tooShort = promptLen < 4 || (fixedOutputLen == null && outputLen < 4);
            boolean tooLong = promptLen > 1024 || promptLen + outputLen > 2048;
            if (tooShort || tooLong || outputLen < 1) continue;
            out.add(new SampleRequest(prompt, promptLen, outputLen));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("no usable conversations in " + file);
        return out;
    }
}
