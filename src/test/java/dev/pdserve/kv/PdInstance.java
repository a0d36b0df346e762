package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A `pdserve serve` or `pdserve proxy` child JVM on loopback, and a small HTTP client for it. */
final class PdInstance implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final String name;
    final Process process;
    final Path log;
    int port = -1;

    private PdInstance(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    private static PdInstance launch(String name, List<String> args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.pdserve.cli.Main"));
        cmd.addAll(args);
        Path log = Files.createTempFile("pdserve-" + name, ".log");
        return new PdInstance(name, new ProcessBuilder(cmd).redirectError(log.toFile()).start(), log);
    }

    /** Starts `serve MODEL` on a free port; {@link #awaitServe()} waits for its startup line. */
    static PdInstance serve(String name, Path model, String kvTransferConfig) throws IOException {
        List<String> args = new ArrayList<>(List.of("serve", model.toString(), "--host", "127.0.0.1", "--port", "0",
                "--served-model-name", "tiny", "--kv-cache-memory", "16MiB", "--threads", "1", "--max-model-len", "1024"));
        if (kvTransferConfig != null) args.addAll(List.of("--kv-transfer-config", kvTransferConfig));
        return launch(name, args);
    }

    PdInstance awaitServe() throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null && !line.contains("Application startup complete.")) {
            Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)").matcher(line);
            if (m.find()) port = Integer.parseInt(m.group(1));
        }
        if (line == null || port < 0) throw new IllegalStateException(name + " did not start:\n" + Files.readString(log));
        Thread.ofVirtual().start(() -> { // keep draining stdout so the child never blocks on it
            try {
                while (out.readLine() != null) { /* discard */ }
            } catch (IOException ignored) {
                // the child ended
            }
        });
        return this;
    }

    /** Starts `proxy` in front of one prefill and one decode instance, and waits until it answers. */
    static PdInstance proxy(String name, List<PdInstance> prefill, List<PdInstance> decode) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> args = new ArrayList<>(List.of("proxy", "--host", "127.0.0.1", "--port", String.valueOf(port)));
        args.add("--prefiller-hosts");
        prefill.forEach(p -> args.add("127.0.0.1"));
        args.add("--prefiller-ports");
        prefill.forEach(p -> args.add(String.valueOf(p.port)));
        args.add("--decoder-hosts");
        decode.forEach(p -> args.add("127.0.0.1"));
        args.add("--decoder-ports");
        decode.forEach(p -> args.add(String.valueOf(p.port)));
        PdInstance proxy = launch(name, args);
        proxy.port = port;
        proxy.process.getInputStream().close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return proxy;
            } catch (IOException e) {
                if (!proxy.process.isAlive()) break;
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException(name + " did not start:\n" + Files.readString(proxy.log));
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
    }

    JsonNode postJson(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = post(path, body);
        if (r.statusCode() != 200) throw new AssertionError(name + " " + path + " answered " + r.statusCode() + ": " + r.body());
        return JSON.readTree(r.body());
    }

    String metrics() throws IOException, InterruptedException {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(30)).GET().build();
        return HTTP.send(r, HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The sum over all label sets of one metric's samples; 0 when absent. */
    double metric(String name) throws IOException, InterruptedException {
        double sum = 0;
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*\\} (\\S+)$").matcher(metrics());
        while (m.find()) sum += Double.parseDouble(m.group(1));
        return sum;
    }

    /** Waits until no KV block is in use or leased; false after the timeout. */
    boolean awaitIdle(Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        do {
            if (metric("vllm:kv_cache_usage_perc") == 0 && metric("pdserve:kv_blocks_leased") == 0) return true;
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        return false;
    }

    /** The payloads of an SSE body. */
    static List<String> events(String sse) {
        List<String> out = new ArrayList<>();
        for (String frame : sse.split("\n\n")) if (frame.startsWith("data: ")) out.add(frame.substring(6));
        return out;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
