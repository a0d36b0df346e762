package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;
import dev.pdserve.http.ErrorBody;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.http.TcpPeer;
import dev.pdserve.proxy.InstancePool.Booking;
import dev.pdserve.proxy.ProxyMetrics.Outcome;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client request to {@code /v1/completions} or {@code /v1/chat/completions}: (1) the prompt with
 * {@code max_tokens=1} to a prefill instance, which answers {@code kv_transfer_params}; (2) the original
 * request plus those params to a decode instance, whose bytes go straight to the client. Failures are
 * retried on another instance, but only before the first byte reached the client. A client that closes its
 * connection while an instance computes cancels that call, and the instance aborts.
 */
final class PdHandler {
    private static final Logger LOG = Logger.getLogger("dev.pdserve.proxy");

    private final ProxyConfig config;
    private final InstancePool pool;
    private final Upstream upstream;
    private final ProxyMetrics metrics;
    private final ObjectMapper json;
    private final Retries retries;
    private final Loops loops;
    private final Router router;
    final AtomicInteger inFlight = new AtomicInteger();
    /** Prefill instances already logged as answering without kv_transfer_params. */
    private final Set<String> notProducers = ConcurrentHashMap.newKeySet();

    /** Response header naming the path a request took: {@code disaggregated} or {@code decode-only}. */
    static final io.helidon.http.HeaderName PD_PATH = HeaderNames.create("X-PD-Path");

    PdHandler(ProxyConfig config, InstancePool pool, Upstream upstream, ProxyMetrics metrics, ObjectMapper json, Loops loops, Router router) {
        this.config = config;
        this.router = router;
        this.pool = pool;
        this.upstream = upstream;
        this.metrics = metrics;
        this.json = json;
        this.loops = loops;
        this.retries = new Retries(config, pool, metrics);
    }

    void handle(ServerRequest req, ServerResponse res, String path) {
        inFlight.incrementAndGet();
        try {
            String requestId = RequestIds.sanitise(HttpEdge.requestId(req, res));
            res.header(HttpEdge.X_REQUEST_ID, requestId);
            String auth = req.headers().first(HeaderNames.AUTHORIZATION)
                    .orElse(config.upstreamApiKey == null ? null : "Bearer " + config.upstreamApiKey);
            // Looked up before the work starts: a connection already reset could not be told from one not found.
            TcpPeer client = TcpPeer.of(req.localPeer().address(), req.remotePeer().address());
            try {
                Upstream.Forward fwd = new Upstream.Forward(requestId, auth, loops.forward(req.headers().first(HeaderNames.create(Loops.HOPS)).orElse(null)));
                ObjectNode body = ProxyJson.object(HttpEdge.body(req, res, config.maxBodyBytes));
                // No prefill instance (only --decoder-hosts): a plain load balancer over the decode instances.
                boolean balanceOnly = pool.list(InstanceType.PREFILL).isEmpty();
                // No prefill (and no lease held for nobody) when no decode instance could take the request.
                if (!pool.anyAvailable(InstanceType.DECODE)) throw retries.noInstance(InstanceType.DECODE);
                Router.Route route = router.route(path, body, fwd);
                Router.Path taken = balanceOnly ? Router.Path.DECODE_ONLY : route.path();
                res.header(PD_PATH, taken.label());
                byte[] decodeBody;
                int[] hitBlocks = {0};
                if (taken == Router.Path.DISAGGREGATED) {
                    if (!pool.anyAvailable(InstanceType.PREFILL)) throw retries.noInstance(InstanceType.PREFILL);
                    JsonNode kv = prefill(path, body, fwd, client, route, hitBlocks);
                    decodeBody = json.writeValueAsBytes(kv == null ? body : PdRequests.decodeBody(body, kv));
                } else {
                    decodeBody = json.writeValueAsBytes(body); // the decode instance prefills it itself
                }
                Decoded decoded = (booking) -> {
                    metrics.decision(InstanceType.DECODE, route.decodeReason());
                    int hits = taken == Router.Path.DECODE_ONLY ? route.hits(booking.instance) : hitBlocks[0];
                    metrics.routed(taken.label(), hits, route.queriedBlocks());
                };
                if (body.path("stream").asBoolean(false)) decodeStreaming(path, decodeBody, fwd, client, res, route, decoded);
                else decodeBuffered(path, decodeBody, fwd, client, res, route, decoded);
            } catch (Upstream.ClientClosed e) {
                metrics.request(Outcome.CLIENT_DISCONNECT);
                LOG.info("request " + requestId + ": " + e.getMessage());
                // Heard only by a client that shut down just its sending side: TCP cannot tell it from a close.
                HttpEdge.sendError(res, new ApiException(499, null, "The client closed the connection; the request was aborted"));
            } catch (ApiException e) {
                metrics.request(e.status < 500 ? Outcome.BAD_REQUEST : e.status == 503 ? Outcome.NO_INSTANCE : Outcome.UPSTREAM_ERROR);
                LOG.log(e.status < 500 ? Level.INFO : Level.WARNING,
                        "request " + requestId + ": " + e.getMessage());
                HttpEdge.sendError(res, e);
            } catch (PassThrough p) {
                metrics.request(Outcome.CLIENT_ERROR);
                if (p.status >= 500) res.header(HttpEdge.ERROR_CAUSE, HttpEdge.CAUSED_BY_REQUEST);
                HttpEdge.sendQuietly(res, p.status, p.contentType, p.body);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException e) { // a bug of ours: still an OpenAI-shaped answer
                LOG.log(Level.SEVERE, "request " + requestId + " failed", e);
                HttpEdge.sendError(res, new ApiException(500, null, "internal error: " + e));
            }
        } finally {
            inFlight.decrementAndGet();
        }
    }

    /** Counts a request's routing once its decode instance answered. */
    private interface Decoded {
        void accept(Booking decode);
    }

    private JsonNode prefill(String path, ObjectNode body, Upstream.Forward fwd, TcpPeer client, Router.Route route, int[] hitBlocks)
            throws IOException, InterruptedException {
        byte[] prefillBody = json.writeValueAsBytes(PdRequests.prefillBody(body));
        return retries.run(InstanceType.PREFILL, PdRequests.promptTokens(body), route.prefillOrder(), booking -> {
            long t0 = System.nanoTime();
            HttpResponse<byte[]> r = upstream.postBuffered(booking.instance.address, path, prefillBody, fwd, config.requestTimeout, client);
            metrics.latency(InstanceType.PREFILL, System.nanoTime() - t0);
            byte[] answer = checkStatus(booking, r, r.body());
            JsonNode parsed = parseAnswer(answer);
            booking.success();
            metrics.decision(InstanceType.PREFILL, router.prefillReason(route, booking.instance));
            hitBlocks[0] = route.hits(booking.instance);
            JsonNode kv = parsed.get("kv_transfer_params");
            if (kv == null || !kv.isObject()) {
                // Not a kv_producer (a colocated server, vLLM without a connector): as vllm-ascend's proxy, the
                // decode instance gets the request as the client sent it and computes all of it.
                if (notProducers.add(booking.instance.address.toString())) {
                    LOG.info(booking.instance + " answered without kv_transfer_params: it is not a kv_producer, so its "
                            + "requests are computed whole by a decode instance (start it with --kv-transfer-config "
                            + "'{\"kv_role\":\"kv_producer\",...}' for PD disaggregation)");
                }
                return null;
            }
            return kv;
        });
    }

    /** Non-streaming decode: buffered, so that a failure can still become a retry or a JSON error. */
    private void decodeBuffered(String path, byte[] body, Upstream.Forward fwd, TcpPeer client, ServerResponse res,
            Router.Route route, Decoded decoded) throws InterruptedException {
        HttpResponse<byte[]> r = retries.run(InstanceType.DECODE, 0, route.decodeOrder(), booking -> {
            long t0 = System.nanoTime();
            HttpResponse<byte[]> resp = upstream.postBuffered(booking.instance.address, path, body, fwd, config.requestTimeout, client);
            metrics.latency(InstanceType.DECODE, System.nanoTime() - t0);
            parseAnswer(checkStatus(booking, resp, resp.body()));
            booking.success();
            decoded.accept(booking);
            return resp;
        });
        metrics.request(HttpEdge.sendQuietly(res, 200, contentType(r), r.body()) ? Outcome.SUCCESS : Outcome.CLIENT_DISCONNECT);
    }

    /**
     * Streaming decode: the stream is held back until its first token (or error) event, then every chunk
     * is relayed as it comes. Until then nothing reached the client, so a decode instance whose KV pull
     * failed (an error event as its first) is retried like a failed non-streaming one.
     */
    private void decodeStreaming(String path, byte[] body, Upstream.Forward fwd, TcpPeer client, ServerResponse res,
            Router.Route route, Decoded decoded) throws InterruptedException {
        retries.run(InstanceType.DECODE, 0, route.decodeOrder(), booking -> {
            long t0 = System.nanoTime();
            HttpResponse<InputStream> r = upstream.postStreaming(booking.instance.address, path, body, fwd, config.requestTimeout, client);
            try (InputStream in = r.body()) { // closing it closes the connection: the decode instance aborts
                if (r.statusCode() >= 400) checkStatus(booking, r, in.readNBytes(64 * 1024));
                if (r.statusCode() != 200) throw new Retries.RetryableFailure("answered HTTP " + r.statusCode());
                StreamStart start = StreamStart.read(in);
                if (start.length() == 0) throw new Retries.RetryableFailure("closed the stream before its first byte");
                if (start.error() != null) {
                    int code = start.error().path("code").asInt(500);
                    String message = start.error().path("message").asText("");
                    if (code >= 500) throw new Retries.RetryableFailure("failed before its first token: " + message);
                    booking.noVerdict(); // the request's own fault (e.g. another request's kv_transfer_params): the client hears it as is
                } else if (!start.complete()) {
                    throw new Retries.RetryableFailure("closed the stream before its first token");
                }
                metrics.latency(InstanceType.DECODE, System.nanoTime() - t0);
                decoded.accept(booking);
                relay(booking, in, start.bytes(), start.length(), res, contentType(r));
                return null;
            }
        });
    }

    /** From the first byte on there is no retry: a failure becomes an SSE error event, never a silent cut. */
    private void relay(Booking booking, InputStream in, byte[] buf, int first, ServerResponse res, String contentType) {
        StreamTail tail = new StreamTail();
        OutputStream out;
        try {
            res.status(200);
            res.header(HeaderNames.CONTENT_TYPE, contentType);
            out = res.outputStream();
            out.write(buf, 0, first);
            out.flush();
        } catch (RuntimeException | IOException e) {
            clientGone(booking, e);
            return;
        }
        tail.add(buf, 0, first);
        while (true) {
            int n;
            try {
                n = in.read(buf);
            } catch (IOException e) {
                streamFailed(booking, out, tail, "failed mid-stream: " + describe(e));
                return;
            }
            if (n < 0) break;
            tail.add(buf, 0, n);
            try {
                out.write(buf, 0, n);
                out.flush();
            } catch (RuntimeException | IOException e) {
                clientGone(booking, e);
                return;
            }
        }
        if (!tail.endsWithDone()) {
            streamFailed(booking, out, tail, "closed the stream before data: [DONE]");
            return;
        }
        booking.success();
        metrics.request(Outcome.SUCCESS);
        closeQuietly(out);
    }

    private void streamFailed(Booking booking, OutputStream out, StreamTail tail, String why) {
        String message = booking.instance + " " + why;
        booking.failure(message);
        metrics.request(Outcome.UPSTREAM_ERROR);
        LOG.warning(message);
        try {
            // Same shape vLLM sends when a stream fails: an error event, then [DONE].
            String event = (tail.atEventBoundary() ? "" : "\n\n") + "data: "
                    + new String(HttpEdge.bytes(ErrorBody.of(502, null, message)), StandardCharsets.UTF_8)
                    + "\n\ndata: [DONE]\n\n";
            out.write(event.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (RuntimeException | IOException ignored) {
            // the client is gone too
        }
        closeQuietly(out);
    }

    private void clientGone(Booking booking, Exception e) {
        booking.noVerdict();
        metrics.request(Outcome.CLIENT_DISCONNECT);
        LOG.info("client went away (" + describe(e) + "); closing " + booking.instance);
    }

    /**
     * 5xx is an instance failure (retried, counted by its breaker), unless the instance says the request
     * caused it ({@link HttpEdge#ERROR_CAUSE}); that and a 4xx are the client's, go back to it untouched,
     * and say nothing about the instance.
     */
    private static byte[] checkStatus(Booking booking, HttpResponse<?> r, byte[] body) throws Retries.RetryableFailure {
        int status = r.statusCode();
        boolean requestCaused = status >= 400 && (status < 500
                || r.headers().firstValue(HttpEdge.ERROR_CAUSE.defaultCase()).filter(HttpEdge.CAUSED_BY_REQUEST::equalsIgnoreCase).isPresent());
        if (requestCaused) {
            booking.noVerdict();
            throw new PassThrough(status, body, contentType(r));
        }
        if (status == 508) { // a loop (Loops) does not go away on a retry
            booking.failure("answered HTTP 508 (a proxy loop)");
            throw new ApiException(508, null, "Loop detected: " + booking.instance + " answered 508: " + snippet(body));
        }
        if (status >= 500) throw new Retries.RetryableFailure("answered HTTP " + status + ": " + snippet(body));
        if (status != 200) throw new Retries.RetryableFailure("answered HTTP " + status);
        return body;
    }

    private JsonNode parseAnswer(byte[] body) throws Retries.RetryableFailure {
        if (body.length == 0) throw new Retries.RetryableFailure("answered 200 with an empty body");
        try {
            JsonNode n = json.readTree(body);
            if (n == null || !n.isObject()) throw new Retries.RetryableFailure("answered 200 with a body that is not a JSON object");
            return n;
        } catch (IOException e) {
            throw new Retries.RetryableFailure("answered 200 with a body that is not JSON: " + snippet(body));
        }
    }

    private static String contentType(HttpResponse<?> r) {
        return r.headers().firstValue("Content-Type").orElse("application/json");
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        String name = e.getClass().getSimpleName();
        if (e instanceof java.net.ConnectException) return "connection refused" + (m == null ? "" : " (" + m + ")");
        return m == null || m.isBlank() ? name : name + ": " + m;
    }

    private static String snippet(byte[] body) {
        String s = new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8).strip();
        return s.isEmpty() ? "(empty body)" : s;
    }

    private static void closeQuietly(OutputStream out) {
        try {
            out.close();
        } catch (RuntimeException | IOException ignored) {
            // the client is gone; nothing left to tell it
        }
    }

    /** A 4xx from an instance, handed back to the client as it came. */
    static final class PassThrough extends RuntimeException {
        final int status;
        final byte[] body;
        final String contentType;

        PassThrough(int status, byte[] body, String contentType) {
            super("HTTP " + status, null, false, false);
            this.status = status;
            this.body = body;
            this.contentType = contentType;
        }
    }
}
