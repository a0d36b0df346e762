package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ErrorBody;
import dev.pdserve.http.HttpEdge;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test-only stand-in for a vLLM instance in a PD pair: a real HTTP/1.1 server on 127.0.0.1 (raw
 * sockets, so it can drop connections wherever a test wants). As a kv_producer it answers
 * {@code kv_transfer_params} when asked to {@code do_remote_decode}; as a kv_consumer it streams SSE.
 * It records every POST and notices when the proxy closes a connection it is still answering. A test
 * can {@link #hold} its answers, to look at the proxy while a request is provably still running.
 */
final class FakeInstance implements AutoCloseable {
    enum Mode {
        OK, FAIL_500, BAD_REQUEST_400, DROP_BEFORE_RESPONSE, DROP_MID_STREAM, STREAM_NO_DONE, EMPTY_200, NO_KV_PARAMS,
        /** 500 marked {@code x-pdserve-error-cause: request}. */
        FAIL_500_REQUEST_CAUSED,
        /** A stream whose KV pull failed: 200, (chat) the role chunk, an error event with this code, [DONE]. */
        STREAM_PULL_FAILED_502, STREAM_PULL_REFUSED_400
    }

    record Received(String path, Map<String, String> headers, JsonNode body, byte[] raw) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    final String name;
    private final ServerSocket server;
    final List<Received> requests = new CopyOnWriteArrayList<>();
    /** Behaviours for the next POSTs, one each; {@link #mode} afterwards. */
    final ConcurrentLinkedDeque<Mode> script = new ConcurrentLinkedDeque<>();
    volatile Mode mode = Mode.OK;
    volatile int tokens = 4;
    volatile long tokenDelayMs = 0;
    volatile int dropAfterEvents = 2;
    volatile int healthStatus = 200;
    volatile double kvUsage = 0;
    /** What /v1/models says as pdserve's kv_role; null: the field is absent (as on vLLM). */
    volatile String kvRole;
    final AtomicInteger healthHits = new AtomicInteger();
    /** Counted down when the peer closed a connection this instance was still answering (= abort). */
    final CountDownLatch peerClosed = new CountDownLatch(1);
    private final Thread acceptor;
    private volatile CountDownLatch gate = new CountDownLatch(0);

    FakeInstance(String name) throws IOException {
        this.name = name;
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = Thread.ofVirtual().start(this::acceptLoop);
    }

    int port() { return server.getLocalPort(); }

    InstanceAddress address() { return new InstanceAddress("127.0.0.1", port()); }

    List<Received> posts() { return requests; }

    Received last() { return requests.getLast(); }

    void fail(Mode m, int times) {
        for (int i = 0; i < times; i++) script.add(m);
    }

    /**
     * From now on answers wait until {@link #release} (or until the proxy hangs up): a whole answer
     * (prefill or non-streaming) before it is sent, a stream after its first event.
     */
    void hold() { gate = new CountDownLatch(1); }

    /** Lets held and later answers go. */
    void release() { gate.countDown(); }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true); // as real instances: events go out as written
                Thread.ofVirtual().start(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            String requestLine = readLine(in);
            if (requestLine == null || requestLine.isEmpty()) return;
            String[] parts = requestLine.split(" ");
            Map<String, String> headers = new LinkedHashMap<>();
            for (String line = readLine(in); line != null && !line.isEmpty(); line = readLine(in)) {
                int c = line.indexOf(':');
                headers.put(line.substring(0, c).trim().toLowerCase(Locale.ROOT), line.substring(c + 1).trim());
            }
            int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            byte[] body = in.readNBytes(length);
            if (parts[0].equals("GET")) {
                get(parts[1], out);
            } else {
                JsonNode json = JSON.readTree(body);
                requests.add(new Received(parts[1], headers, json, body));
                Mode m = script.poll();
                post(s, in, out, parts[1], headers, json, m == null ? mode : m);
            }
        } catch (IOException e) {
            peerClosed.countDown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void get(String path, OutputStream out) throws IOException {
        switch (path) {
            case "/health" -> {
                healthHits.incrementAndGet();
                respond(out, healthStatus, "application/json", new byte[0]);
            }
            case "/metrics" -> respond(out, 200, "text/plain",
                    ("# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\"fake\"} "
                            + kvUsage + "\n").getBytes(StandardCharsets.UTF_8));
            case "/v1/models" -> respond(out, 200, "application/json",
                    ("{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\",\"owned_by\":\"" + name + "\""
                            + (kvRole == null ? "" : ",\"kv_role\":\"" + kvRole + "\"") + "}]}")
                            .getBytes(StandardCharsets.UTF_8));
            default -> respond(out, 404, "text/plain", "not found".getBytes(StandardCharsets.UTF_8));
        }
    }

    private void post(Socket s, InputStream in, OutputStream out, String path, Map<String, String> headers, JsonNode body, Mode m)
            throws IOException, InterruptedException {
        switch (m) {
            case FAIL_500 -> { respond(out, 500, "application/json", error(500, "fake " + name + " exploded")); return; }
            case FAIL_500_REQUEST_CAUSED -> {
                byte[] b = error(500, "fake " + name + ": this request's temperature broke the sampler");
                out.write(("HTTP/1.1 500 X\r\nContent-Type: application/json\r\nx-pdserve-error-cause: request\r\nContent-Length: " + b.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(b);
                out.flush();
                return;
            }
            case BAD_REQUEST_400 -> { respond(out, 400, "application/json", error(400, "fake " + name + ": max_tokens is too large")); return; }
            case DROP_BEFORE_RESPONSE -> { s.setSoLinger(true, 0); s.close(); return; }
            case EMPTY_200 -> { respond(out, 200, "application/json", new byte[0]); return; }
            default -> { }
        }
        boolean stream = body.path("stream").asBoolean(false) && !body.path("kv_transfer_params").path("do_remote_decode").asBoolean(false);
        if (!stream && heldUntilReleased(s, in)) return;
        boolean chat = path.endsWith("/chat/completions");
        boolean prefill = body.path("kv_transfer_params").path("do_remote_decode").asBoolean(false);
        if (prefill) {
            ObjectNode r = completion(chat, name + "-first");
            if (m != Mode.NO_KV_PARAMS) {
                ObjectNode kv = r.putObject("kv_transfer_params");
                kv.put("do_remote_prefill", true);
                kv.put("do_remote_decode", false);
                kv.put("remote_engine_id", "engine-" + name);
                kv.putArray("remote_block_ids").add(1).add(2).add(3);
                kv.put("remote_host", "127.0.0.1");
                kv.put("remote_port", port());
                kv.put("remote_request_id", headers.getOrDefault("x-request-id", ""));
            }
            respond(out, 200, "application/json", JSON.writeValueAsBytes(r));
            return;
        }
        if (!body.path("stream").asBoolean(false)) {
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < tokens; i++) text.append(name).append("-tok").append(i).append(' ');
            respond(out, 200, "application/json", JSON.writeValueAsBytes(completion(chat, text.toString())));
            return;
        }
        out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
                + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        if (m == Mode.STREAM_PULL_FAILED_502 || m == Mode.STREAM_PULL_REFUSED_400) {
            if (chat) chunk(out, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                    + "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
            int code = m == Mode.STREAM_PULL_FAILED_502 ? 502 : 400;
            chunk(out, "data: " + new String(error(code, "generation failed: KV transfer from prefill instance failed"), StandardCharsets.UTF_8) + "\n\n");
            chunk(out, "data: [DONE]\n\n");
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return;
        }
        for (int i = 0; i < tokens; i++) {
            if (m == Mode.DROP_MID_STREAM && i == dropAfterEvents) {
                // A dying process: FIN in the middle of the chunked body (an RST could discard sent tokens).
                s.close();
                return;
            }
            ObjectNode chunk = JSON.createObjectNode();
            chunk.put("object", chat ? "chat.completion.chunk" : "text_completion");
            ObjectNode choice = chunk.putArray("choices").addObject();
            choice.put("index", 0);
            if (chat) choice.putObject("delta").put("content", name + "-tok" + i + " ");
            else choice.put("text", name + "-tok" + i + " ");
            chunk(out, "data: " + JSON.writeValueAsString(chunk) + "\n\n");
            if (i == 0 && heldUntilReleased(s, in)) return;
            if (tokenDelayMs > 0 && peerClosedWithin(s, in, tokenDelayMs)) return;
        }
        if (m != Mode.STREAM_NO_DONE) chunk(out, "data: [DONE]\n\n");
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** Waits while {@link #hold held}, watching the connection: true (and {@link #peerClosed}) if the proxy closed it. */
    private boolean heldUntilReleased(Socket s, InputStream in) throws IOException {
        while (gate.getCount() > 0) {
            if (peerClosedWithin(s, in, 10)) return true;
        }
        return false;
    }

    /** Waits {@code ms}, watching the connection: true (and {@link #peerClosed}) if the proxy closed it. */
    private boolean peerClosedWithin(Socket s, InputStream in, long ms) throws IOException {
        long end = System.nanoTime() + ms * 1_000_000;
        while (System.nanoTime() < end) {
            s.setSoTimeout(10);
            try {
                if (in.read() < 0) {
                    peerClosed.countDown();
                    return true;
                }
            } catch (SocketTimeoutException e) {
                // still open
            } catch (IOException e) {
                peerClosed.countDown();
                return true;
            }
        }
        return false;
    }

    private static ObjectNode completion(boolean chat, String text) {
        ObjectNode r = JSON.createObjectNode();
        r.put("id", "cmpl-fake");
        r.put("object", chat ? "chat.completion" : "text_completion");
        r.put("model", "fake-model");
        ObjectNode choice = r.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) choice.putObject("message").put("role", "assistant").put("content", text);
        else choice.put("text", text);
        choice.put("finish_reason", "length");
        return r;
    }

    private static byte[] error(int code, String message) {
        return HttpEdge.bytes(ErrorBody.of(code, null, message));
    }

    private static void chunk(OutputStream out, String data) throws IOException {
        byte[] b = data.getBytes(StandardCharsets.UTF_8);
        out.write((Integer.toHexString(b.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static void respond(OutputStream out, int status, String contentType, byte[] body) throws IOException {
        out.write(("HTTP/1.1 " + status + " X\r\nContent-Type: " + contentType + "\r\nContent-Length: " + body.length
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c >= 0; c = in.read()) {
            if (c == '\n') return b.toString(StandardCharsets.US_ASCII).stripTrailing();
            b.write(c);
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
        release();
        server.close();
        acceptor.interrupt();
    }
}
