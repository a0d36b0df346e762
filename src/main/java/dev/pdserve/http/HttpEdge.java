package dev.pdserve.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the server and the proxy both do where a request comes in and its answer goes out, in one
 * place so the two cannot drift: the request id, the body read under one size limit, the JSON
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

    private static final ObjectMapper JSON = new ObjectMapper();

    private HttpEdge() {}

    /** The client's {@code X-Request-Id} when it sent one, else a fresh id; echoed on the response. */
    public static String requestId(ServerRequest req, ServerResponse res) {
        String id = req.headers().first(X_REQUEST_ID).filter(s -> !s.isBlank())
                .orElseGet(() -> HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        res.header(X_REQUEST_ID, id);
        return id;
    }

    /** The request body, at most {@code maxBytes}: 413 beyond (told by Content-Length before reading when it is sent). */
    public static byte[] body(ServerRequest req, long maxBytes) {
        OptionalLong declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > maxBytes) throw tooLarge(declared.getAsLong(), maxBytes);
        try (InputStream in = req.content().inputStream()) {
            byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
            if (bytes.length > maxBytes) throw tooLarge(-1, maxBytes);
            return bytes;
        } catch (IOException | java.io.UncheckedIOException e) {
            throw ApiException.badRequest(null, "The request body could not be read: " + e.getMessage());
        }
    }

    /** The body as a JSON object: 400 when it is not JSON or not an object. */
    public static ObjectNode jsonObject(byte[] body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
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
