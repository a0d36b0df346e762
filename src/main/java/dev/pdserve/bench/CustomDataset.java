package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** vLLM's "custom" dataset: JSONL lines {"prompt": "...", "output_tokens": N}; N defaults to --custom-output-len. */
public final class CustomDataset {
    private CustomDataset() {}

    public static List<SampleRequest> sample(Path file, PromptTokenizer tokenizer, int numRequests, int defaultOutputLen) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dataset " + file + ": " + e.getMessage(), e);
        }
        ObjectMapper json = new ObjectMapper();
        List<SampleRequest> out = new ArrayList<>();
        for (int i = 0; i < lines.size() && out.size() < numRequests; i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            JsonNode node;
            try {
                node = json.readTree(line);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": not JSON: " + e.getMessage());
            }
            if (!node.path("prompt").isTextual()) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": needs a string field \"prompt\"");
            }
            String prompt = node.get("prompt").asText();
            int outputLen = node.path("output_tokens").asInt(defaultOutputLen);
            out.add(new SampleRequest(prompt, tokenizer.encode(prompt).length, outputLen));
        }
        if (out.isEmpty()) throw new IllegalArgumentException("no prompts in " + file);
        return out;
    }
}
