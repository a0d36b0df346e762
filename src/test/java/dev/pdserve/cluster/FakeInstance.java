package dev.pdserve.cluster;

import com.sun.net.httpserver.HttpServer;
import dev.pdserve.kv.KvRole;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A stand-in serving instance on loopback for doctor tests: a real HTTP server answering
 * /health, /version and /v1/models like vLLM does, and a real TCP listener as its KV port.
 */
final class FakeInstance implements AutoCloseable {
    private final HttpServer http;
    private final ServerSocket kv;
    private final Thread acceptor;
    volatile int healthStatus = 200;

    FakeInstance(String version, String model) throws IOException {
        InetAddress lo = InetAddress.getLoopbackAddress();
        http = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        http.createContext("/health", ex -> reply(ex, healthStatus, ""));
        http.createContext("/version", ex -> reply(ex, 200, "{\"version\":\"" + version + "\"}"));
        http.createContext("/v1/models", ex -> reply(ex, 200,
                "{\"object\":\"list\",\"data\":[{\"id\":\"" + model + "\",\"object\":\"model\",\"owned_by\":\"pdserve\"}]}"));
        http.start();
        kv = new ServerSocket(0, 50, lo);
        acceptor = Thread.ofVirtual().start(() -> {
            while (!kv.isClosed()) {
                try (Socket s = kv.accept()) {
                    s.getInputStream().readNBytes(0);
                } catch (IOException closed) {
                    return;
                }
            }
        });
    }

    int httpPort() {
        return http.getAddress().getPort();
    }

    int kvPort() {
        return kv.getLocalPort();
    }

    /** The cluster.json instance entry for this fake. */
    String entry(String id, KvRole role) {
        return entry(id, role, kvPort());
    }

    /** The entry with another KV port, e.g. a real KvProducer's, this fake answering the HTTP side. */
    String entry(String id, KvRole role, int kvPort) {
        return "{\"id\":\"" + id + "\",\"role\":\"" + role.wire() + "\",\"host\":\"127.0.0.1\",\"http_port\":" + httpPort()
                + ",\"kv_port\":" + kvPort + "}";
    }

    private static void reply(com.sun.net.httpserver.HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override
    public void close() throws IOException {
        http.stop(0);
        kv.close();
        acceptor.interrupt();
    }

    /** A loopback port with nothing listening (bound, then released). */
    static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
