package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * vLLM's check that the server counts random prompts as the bench did: the first prompt goes to the
 * server's {@code /tokenize} (no special tokens); when its count differs, every prompt the server counts
 * longer is cut to its planned length through {@code /detokenize}. A server without {@code /tokenize}
 * is left alone, with a warning.
 */
final class PromptAlignment {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final String baseUrl;
    private final String model;
    private final Map<String, String> headers;

    PromptAlignment(HttpClient http, String baseUrl, String model, Map<String, String> headers) {
        this.http = http;
        this.baseUrl = baseUrl;
        this.model = model;
        this.headers = headers;
    }

    List<SampleRequest> align(List<SampleRequest> requests, PrintStream log) {
        if (requests.isEmpty()) return requests;
        int[] first;
        try {
            first = tokenize(requests.getFirst().prompt());
        } catch (IOException | RuntimeException e) {
            log.println("WARNING: /tokenize unavailable, skipping alignment.");
            return requests;
        }
        int expected = requests.getFirst().promptLen();
        if (first.length == expected) return requests;
        log.println("WARNING: tokenizer mismatch (server=" + first.length + ", expected=" + expected + "), re-aligning prompts.");
        List<SampleRequest> out = new ArrayList<>(requests.size());
        for (SampleRequest r : requests) {
            try {
                int[] tokens = tokenize(r.prompt());
                out.add(tokens.length <= r.promptLen() ? r
                        : new SampleRequest(detokenize(Arrays.copyOf(tokens, r.promptLen())), r.promptLen(), r.expectedOutputLen()));
            } catch (IOException | RuntimeException e) {
                out.add(r); // as vLLM: a prompt that cannot be fixed is sent as it is
            }
        }
        return out;
    }

    private int[] tokenize(String prompt) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("model", model).put("prompt", prompt).put("add_special_tokens", false);
        JsonNode tokens = post("/tokenize", body).path("tokens");
        if (!tokens.isArray()) throw new IOException("no tokens in the /tokenize answer");
        int[] ids = new int[tokens.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = tokens.get(i).asInt();
        return ids;
    }

    private String detokenize(int[] tokens) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("model", model);
        for (int t : tokens) body.withArray("tokens").add(t);
        JsonNode prompt = post("/detokenize", body).path("prompt");
        if (!prompt.isTextual()) throw new IOException("no prompt in the /detokenize answer");
        return prompt.asText();
    }

    private JsonNode post(String path, ObjectNode body) throws IOException {
        var b = HttpRequest.newBuilder(URI.create(baseUrl + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        headers.forEach(b::setHeader);
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IOException(path + " answered HTTP " + r.statusCode());
            return JSON.readTree(r.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
