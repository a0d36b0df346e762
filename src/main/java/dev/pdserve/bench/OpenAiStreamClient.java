package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * Sends one streaming request to an OpenAI-compatible server and times it as vLLM's bench
 * (vllm/benchmarks/lib/endpoint_request_func.py) does: every chunk that has {@code choices} is a token
 * event, even with empty text (a held-back UTF-8 byte, a special token), so TTFT is the first such chunk,
 * ITL the gaps between them and E2EL the last one; the trailing {@code usage} chunk
 * ({@code stream_options.include_usage}) gives the token counts and moves no time. The body is vLLM's:
 * completions send {@code repetition_penalty: 1.0} and {@code logprobs: null}, chat sends the prompt as one
 * text content part; {@code ignore_eos} when asked for, then the extra body (sampling flags).
 */
public final class OpenAiStreamClient {
    static final String NO_TOKEN_ERROR = "Never received a valid chunk to calculate TTFT.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final Backend backend;
    private final URI apiUrl;
    private final String model;
    private final Map<String, String> headers;
    private final Map<String, Object> extraBody;
    private final boolean ignoreEos;

    public OpenAiStreamClient(HttpClient http, Backend backend, URI apiUrl, String model, Map<String, String> headers,
                              Map<String, Object> extraBody, boolean ignoreEos) {
        this.http = http;
        this.backend = backend;
        this.apiUrl = apiUrl;
        this.model = model;
        this.headers = Map.copyOf(headers);
        this.extraBody = Map.copyOf(extraBody);
        this.ignoreEos = ignoreEos;
    }

    /** GET {base}/v1/models and return the first id, as vLLM does when --model is not given. */
    public static String firstModel(HttpClient http, String baseUrl, Map<String, String> headers) {
        String url = baseUrl + "/v1/models";
        try {
            var b = HttpRequest.newBuilder(URI.create(url)).GET();
            withHeaders(b, headers);
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IllegalStateException("GET " + url + " answered HTTP " + r.statusCode() + ": " + r.body());
            JsonNode data = JSON.readTree(r.body()).path("data");
            if (data.isEmpty()) throw new IllegalStateException("no models served at " + url);
            return data.get(0).path("id").asText();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list models at " + url + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while listing models at " + url, e);
        }
    }

    String body(SampleRequest req) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", model);
        if (backend.chat) {
            ObjectNode message = body.putArray("messages").addObject().put("role", "user");
            message.putArray("content").addObject().put("type", "text").put("text", req.prompt());
            body.put("max_completion_tokens", req.expectedOutputLen());
        } else {
            body.put("prompt", req.prompt());
            body.put("repetition_penalty", 1.0);
            body.put("max_tokens", req.expectedOutputLen());
            body.putNull("logprobs");
        }
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        if (ignoreEos) body.put("ignore_eos", true);
        extraBody.forEach((k, v) -> body.set(k, JSON.valueToTree(v)));
        return body.toString();
    }

    /** Sends {@code req} now; times are measured from {@code benchStartNanos}. Never throws for server faults. */
    public RequestResult send(SampleRequest req, String requestId, long benchStartNanos) {
        var b = HttpRequest.newBuilder(apiUrl)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body(req)));
        withHeaders(b, headers);
        if (requestId != null) b.header("x-request-id", requestId);
        long st = System.nanoTime();
        double start = (st - benchStartNanos) / 1e9;
        try {
            HttpResponse<InputStream> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = resp.body()) {
                if (resp.statusCode() != 200) {
                    String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                    return RequestResult.failure(httpError(resp.statusCode(), text), start, secondsSince(st), req.promptLen(), 0);
                }
                return readStream(in, st, start, req.promptLen());
            }
        } catch (java.net.ConnectException e) {
            return RequestResult.failure("cannot connect to " + apiUrl + " (" + describe(e) + ")", start, secondsSince(st), req.promptLen(), 0);
        } catch (IOException e) {
            return RequestResult.failure("connection error: " + describe(e), start, secondsSince(st), req.promptLen(), 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return RequestResult.failure("interrupted", start, secondsSince(st), req.promptLen(), 0);
        }
    }

    private RequestResult readStream(InputStream in, long st, double start, int promptLen) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        double[] itl = new double[64];
        int chunks = 0;
        long last = st;
        double ttft = 0;
        int completionTokens = -1;
        StringBuilder text = new StringBuilder();
        String line;
        while ((line = reader.readLine()) != null) {
            if (!line.startsWith("data:")) continue; // blank separators, ":" pings, event/id fields
            String data = line.substring(5).strip();
            if (data.equals("[DONE]")) break;
            long now = System.nanoTime();
            JsonNode node;
            try {
                node = JSON.readTree(data);
            } catch (IOException e) {
                return RequestResult.failure("invalid JSON in stream: " + abbreviate(data, 80), start, secondsSince(st), promptLen, 0);
            }
            if (node.hasNonNull("error")) {
                JsonNode err = node.get("error");
                String msg = err.isObject() ? err.path("message").asText(err.toString()) : err.asText();
                return RequestResult.failure("error in stream: " + msg, start, secondsSince(st), promptLen, 0);
            }
            JsonNode choices = node.path("choices");
            if (!choices.isEmpty()) {
                JsonNode c = choices.get(0);
                if (chunks == 0) {
                    ttft = (now - st) / 1e9;
                } else {
                    if (chunks - 1 == itl.length) itl = Arrays.copyOf(itl, itl.length * 2);
                    itl[chunks - 1] = (now - last) / 1e9;
                }
                chunks++;
                last = now;
                text.append(backend.chat ? c.path("delta").path("content").asText("") : c.path("text").asText(""));
                continue;
            }
            JsonNode usage = node.path("usage");
            if (usage.isObject()) {
                if (usage.hasNonNull("completion_tokens")) completionTokens = usage.get("completion_tokens").asInt();
                if (usage.hasNonNull("prompt_tokens")) promptLen = usage.get("prompt_tokens").asInt();
            }
        }
        if (chunks == 0) return RequestResult.failure(NO_TOKEN_ERROR, start, secondsSince(st), promptLen, 0);
        boolean usageReported = completionTokens >= 0;
        return new RequestResult(true, "", start, ttft, Arrays.copyOf(itl, chunks - 1), (last - st) / 1e9, promptLen,
                usageReported ? completionTokens : chunks, usageReported, text.toString(), 0);
    }

    /** "HTTP 500: <error.message>" for an OpenAI-style error body, else the start of the body. */
    static String httpError(int status, String body) {
        String msg = body.strip();
        try {
            JsonNode err = JSON.readTree(body).path("error");
            if (err.isObject() && err.hasNonNull("message")) msg = err.get("message").asText();
            else if (err.isTextual()) msg = err.asText();
        } catch (IOException notJson) {
            // keep the raw text
        }
        return "HTTP " + status + (msg.isEmpty() ? "" : ": " + abbreviate(msg, 200));
    }

    /** "ConnectException: Connection refused", taking the message from a cause when the exception has none. */
    static String describe(Throwable e) {
        String msg = null;
        for (Throwable t = e; t != null && msg == null; t = t.getCause()) msg = t.getMessage();
        return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
    }

    private static String abbreviate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "...";
    }

    private static double secondsSince(long st) {
        return (System.nanoTime() - st) / 1e9;
    }

    private static void withHeaders(HttpRequest.Builder b, Map<String, String> headers) {
        String key = System.getenv("OPENAI_API_KEY");
        if (key != null && !key.isBlank()) b.header("Authorization", "Bearer " + key);
        headers.forEach(b::setHeader);
    }
}
