package dev.pdserve.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.http.HeaderName;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.DirectHandlers;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the server and the proxy both do where a request comes in and its answer goes out, in one
 * place so the two cannot drift: the listener (connection cap, idle timeout, JSON answers to what
 * Helidon refuses before routing), the request id, the body read under one size limit, the JSON
 * object check, and JSON and error answers.
 */
public final class HttpEdge {
    public static final HeaderName X_REQUEST_ID = HeaderNames.create("X-Request-Id");
    /** The largest request body taken by default (413 beyond): a 128k-token prompt as JSON fits. */
    public static final long MAX_BODY_BYTES = 16L << 20;
    public static final String JSON_TYPE = "application/json";
    /**
     * On an error answer, {@code request} when the request itself caused it (see
     * {@link ApiException#causedByRequest}): the PD proxy passes such an answer on untouched, with no
     * retry and nothing counted against the instance's circuit breaker.
     */
    public static final HeaderName ERROR_CAUSE = HeaderNames.create("x-pdserve-error-cause");
    public static final String CAUSED_BY_REQUEST = "request";

    /** Trailing bytes after the object are refused, not ignored. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private HttpEdge() {}

    /**
     * How many connections a listener keeps and for how long an idle one stays open. {@code
     * VLLM_HTTP_TIMEOUT_KEEP_ALIVE} (seconds, vLLM's variable) and {@code PDSERVE_MAX_CONNECTIONS}
     * override the defaults: 60 s, and half the open-file limit less a reserve (the proxy holds an
     * upstream connection per client connection), at most 16384.
     */
    public record Connections(int max, Duration idleTimeout) {
        public static Connections defaults() {
            long files = FileLimit.raise();
            int max = (int) Math.max(32, Math.min(16384, (files - 256) / 2));
            Duration idle = Duration.ofSeconds(60);
            try {
                String m = System.getenv("PDSERVE_MAX_CONNECTIONS"), t = System.getenv("VLLM_HTTP_TIMEOUT_KEEP_ALIVE");
                if (m != null && !m.isBlank()) max = Integer.parseInt(m.strip());
                if (t != null && !t.isBlank()) idle = Duration.ofMillis((long) (Double.parseDouble(t.strip()) * 1000));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("PDSERVE_MAX_CONNECTIONS / VLLM_HTTP_TIMEOUT_KEEP_ALIVE: " + e.getMessage());
            }
            return new Connections(max, idle);
        }
    }

    /** Connections over the cap that may still be accepted to be shed (refusing takes a moment each). */
    private static final int SHED_SLOTS = 64;

    /**
     * The listener settings the server and the proxy share: TCP_NODELAY (each SSE event is its own
     * small write, which with Nagle on waits for the client's delayed ACK), the {@link ConnectionGate}
     * as the only HTTP/1.1 selector, Helidon's accept cap just above it so the process never runs
     * out of file descriptors (an accept that fails for want of them stops Helidon's listener), the
     * idle timeout, and JSON bodies on Helidon's own 400/413/414/500 answers.
     */
    public static WebServerConfig.Builder listener(WebServerConfig.Builder b, Connections c, String name) {
        FileLimit.raise();
        Duration idle = c.idleTimeout();
        Duration period = Duration.ofMillis(Math.max(250, Math.min(idle.toMillis() / 4, 30_000)));
        return b.connectionOptions(o -> o.tcpNoDelay(true))
                .protocolsDiscoverServices(false)
                .connectionSelectors(java.util.List.of(new ConnectionGate(c.max(), name)))
                .maxTcpConnections(c.max() + SHED_SLOTS)
                .idleConnectionTimeout(idle)
                .idleConnectionPeriod(period)
                .directHandlers(directHandlers());
    }

    /** Helidon's answers before routing (a bad request line, headers, chunk sizes, a URI too long), as OpenAI JSON errors. */
    static DirectHandlers directHandlers() {
        DirectHandler json = (request, type, status, headers, message) -> {
            int code = status.code();
            String text = message == null || message.isBlank() ? status.reasonPhrase() : message;
            headers.set(HeaderNames.CONTENT_TYPE, JSON_TYPE);
            return DirectHandler.TransportResponse.builder().status(status).headers(headers)
                    .entity(bytes(ErrorBody.of(code, null, text))).keepAlive(false).build();
        };
        DirectHandlers.Builder b = DirectHandlers.builder();
        for (DirectHandler.EventType t : DirectHandler.EventType.values()) b.addHandler(t, json);
        return b.build();
    }

    /** The client's {@code X-Request-Id} when it sent one, else a fresh id; echoed on the response. */
    public static String requestId(ServerRequest req, ServerResponse res) {
        String id = req.headers().first(X_REQUEST_ID).filter(s -> !s.isBlank())
                .orElseGet(() -> HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        res.header(X_REQUEST_ID, id);
        return id;
    }

    /** {@link #body(ServerRequest, ServerResponse, long)} for a caller that answers without the response at hand. */
    public static byte[] body(ServerRequest req, long maxBytes) {
        return body(req, null, maxBytes);
    }

    /**
     * The request body, at most {@code maxBytes}: 413 beyond (told by Content-Length before reading
     * when it is sent). A body that cannot be read (cut short, a bad chunk size) is the client's
     * fault: 400, and the connection closes after the answer since its framing is lost.
     */
    public static byte[] body(ServerRequest req, ServerResponse res, long maxBytes) {
        OptionalLong declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > maxBytes) {
            closeAfter(res); // the body is not read: nothing else can follow on this connection
            throw tooLarge(declared.getAsLong(), maxBytes);
        }
        try (InputStream in = req.content().inputStream()) {
            byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
            if (bytes.length > maxBytes) {
                closeAfter(res);
                throw tooLarge(-1, maxBytes);
            }
            return bytes;
        } catch (IOException | RuntimeException e) {
            if (e instanceof ApiException a) throw a;
            closeAfter(res);
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw ApiException.badRequest(null, "The request body could not be read: " + why);
        }
    }

    private static void closeAfter(ServerResponse res) {
        if (res != null) res.header(HeaderValues.CONNECTION_CLOSE);
    }

    /** The body as a JSON object: 400 when it is not JSON or not an object. */
    public static ObjectNode jsonObject(byte[] body) {
        return jsonObject(body, JSON);
    }

    /** The same, read by {@code mapper} (the proxy's keeps numbers as written). */
    public static ObjectNode jsonObject(byte[] body, ObjectMapper mapper) {
        JsonNode root;
        try {
            root = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest(null, "The request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest(null, "The request body could not be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) throw ApiException.badRequest(null, "The request body must be a JSON object");
        return (ObjectNode) root;
    }

    private static ApiException tooLarge(long size, long max) {
        return new ApiException(413, null, "The request body" + (size >= 0 ? " (" + size + " bytes)" : "")
                + " is over the limit of " + max + " bytes");
    }

    public static byte[] bytes(JsonNode json) {
        try {
            return JSON.writeValueAsBytes(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A whole JSON answer. */
    public static void sendJson(ServerResponse res, int status, JsonNode body) {
        res.status(status);
        res.header(HeaderNames.CONTENT_TYPE, JSON_TYPE);
        res.send(bytes(body));
    }

    /** A Prometheus scrape ({@code /metrics}). */
    public static void sendMetrics(ServerResponse res, String exposition) {
        res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        res.send(exposition.getBytes(StandardCharsets.UTF_8));
    }

    /** The error answer, unless a response already started (a stream reports its error as an event). */
    public static void sendError(ServerResponse res, ApiException e) {
        if (res.isSent()) return;
        if (e.causedByRequest) res.header(ERROR_CAUSE, CAUSED_BY_REQUEST);
        sendQuietly(res, e.status, JSON_TYPE, bytes(ErrorBody.of(e)));
    }

    /** Sends a whole response; false when the client has gone away. */
    public static boolean sendQuietly(ServerResponse res, int status, String contentType, byte[] body) {
        try {
            res.status(status);
            res.header(HeaderNames.CONTENT_TYPE, contentType);
            res.send(body);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
