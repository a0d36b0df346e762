package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;

/**
 * A real OpenAI-compatible SSE server on 127.0.0.1 (port 0) for the bench tests: it streams a known number of
 * tokens with known delays and a {@code usage} chunk, or fails a request in a known way, as the test's
 * {@code plan} says for the n-th request it receives.
 */
final class FakeOpenAiServer implements AutoCloseable {
    /** EMPTY_FINISH: the tokens, then a chunk with empty text and the finish reason (a held-back stop string, say). */
    enum Kind { OK, HTTP_500, BAD_JSON, DROP, NO_TOKENS, EMPTY_FINISH }

    /**
     * What to do with one request. {@code tokens} completion tokens, sent {@code tokensPerChunk} per SSE chunk,
     * the first chunk after {@code ttftMs}, the next ones {@code itlMs} apart; {@code usage} says whether the
     * final usage chunk is sent.
     */
    record Behavior(Kind kind, int tokens, int tokensPerChunk, long ttftMs, long itlMs, boolean usage) {
        static Behavior ok(int tokens, long ttftMs, long itlMs) {
            return new Behavior(Kind.OK, tokens, 1, ttftMs, itlMs, true);
        }

        static Behavior fail(Kind kind) {
            return new Behavior(kind, 3, 1, 0, 0, true);
        }
    }

    static final String MODEL = "fake/tiny-model";
    static final String ERROR_500 = "engine overloaded";
    static final int PROMPT_TOKENS = 7;

    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // TCP_NODELAY, as real SSE servers set it: without it Nagle + delayed ACK hold small chunks ~40 ms.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }
    private final HttpServer server;
    private final AtomicInteger counter = new AtomicInteger();
    private final BiFunction<Integer, JsonNode, Behavior> plan;
    final List<JsonNode> bodies = new CopyOnWriteArrayList<>();
    final List<String> requestIds = new CopyOnWriteArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Most completion requests the server was handling at the same time. */
    final AtomicInteger maxInFlight = new AtomicInteger();

    FakeOpenAiServer(BiFunction<Integer, JsonNode, Behavior> plan) throws IOException {
        this.plan = plan;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/models", ex -> respond(ex, 200,
                "{\"object\":\"list\",\"data\":[{\"id\":\"" + MODEL + "\",\"object\":\"model\",\"root\":\"" + MODEL + "\"}]}"));
        server.createContext("/v1/completions", ex -> complete(ex, false));
        server.createContext("/v1/chat/completions", ex -> complete(ex, true));
        server.start();
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private void complete(HttpExchange ex, boolean chat) throws IOException {
        maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        try {
            stream(ex, chat);
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private void stream(HttpExchange ex, boolean chat) throws IOException {
        JsonNode body = JSON.readTree(ex.getRequestBody());
        bodies.add(body);
        requestIds.add(ex.getRequestHeaders().getFirst("x-request-id"));
        Behavior b = plan.apply(counter.getAndIncrement(), body);
        if (b.kind() == Kind.HTTP_500) {
            respond(ex, 500, "{\"error\":{\"message\":\"" + ERROR_500 + "\",\"type\":\"server_error\",\"param\":null,\"code\":500}}");
            return;
        }
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0); // chunked
        OutputStream out = ex.getResponseBody();
        if (chat) send(out, chunk(true, null, true)); // a role-only first chunk, sent at once (vLLM sends it with the first token)
        if (b.kind() != Kind.NO_TOKENS) {
            int sent = 0, chunks = 0;
            while (sent < b.tokens()) {
                sleep(chunks == 0 ? b.ttftMs() : b.itlMs());
                int n = Math.min(b.tokensPerChunk(), b.tokens() - sent);
                sent += n;
                String c = chunk(chat, " tok".repeat(n), false);
                // As vLLM and pdserve stream: the finish reason rides on the last token's chunk.
                send(out, sent < b.tokens() ? c : c.replace("\"finish_reason\":null", "\"finish_reason\":\"length\""));
                chunks++;
                if (chunks == 2 && b.kind() == Kind.BAD_JSON) {
                    send(out, "data: {\"choices\": [{\"text\": \"oops\"\n\n");
                    out.close();
                    return;
                }
                if (chunks == 2 && b.kind() == Kind.DROP) {
                    // Dies mid-stream: the connection closes without the chunked-encoding terminator.
                    throw new IllegalStateException("simulated crash");
                }
            }
        }
        if (b.kind() == Kind.EMPTY_FINISH) send(out, chunk(chat, "", false).replace("\"finish_reason\":null", "\"finish_reason\":\"length\""));
        if (b.usage() && body.path("stream_options").path("include_usage").asBoolean()) {
            int completion = b.kind() == Kind.NO_TOKENS ? 0 : b.tokens();
            send(out, "data: {\"id\":\"x\",\"object\":\"text_completion\",\"choices\":[],\"usage\":{\"prompt_tokens\":" + PROMPT_TOKENS
                    + ",\"completion_tokens\":" + completion + ",\"total_tokens\":" + (PROMPT_TOKENS + completion) + "}}\n\n");
        }
        send(out, "data: [DONE]\n\n");
        out.close();
    }

    private static String chunk(boolean chat, String text, boolean roleOnly) {
        ObjectNode c = JSON.createObjectNode();
        c.put("id", "cmpl-1").put("model", MODEL);
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        if (chat) {
            ObjectNode delta = choice.putObject("delta");
            if (roleOnly) delta.put("role", "assistant").put("content", "");
            else delta.put("content", text);
        } else {
            choice.put("text", text);
        }
        choice.putNull("finish_reason");
        return "data: " + c + "\n\n";
    }

    private static void send(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void respond(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static void sleep(long ms) {
        if (ms <= 0) return;
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
