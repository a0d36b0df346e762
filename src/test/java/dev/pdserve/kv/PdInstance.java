package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.Await;
import dev.pdserve.TestLogs;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A `pdserve serve` or `pdserve proxy` child JVM on loopback, and a small HTTP client for it. Its
 * stdout and stderr go to one log file, {@code LOG_DIR/NAME.log} (see {@link TestLogs}); messages
 * about a child that misbehaves name that file.
 */
public final class PdInstance implements AutoCloseable {
    public static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** Several child JVMs loading models at once on one loaded core take a while to start. */
    private static final Duration STARTUP = Duration.ofMinutes(3);
    private static final Pattern PORT = Pattern.compile("serving .* on http://127\\.0\\.0\\.1:(\\d+)");

    public final String name;
    public final Process process;
    public final Path log;
    public int port = -1;

    private PdInstance(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    private static PdInstance launch(String name, Path logDir, List<String> args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(TestLogs.jvmFlags());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.pdserve.cli.Main"));
        cmd.addAll(args);
        Path log = logDir.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new PdInstance(name, p, log);
    }

    /** Starts `serve MODEL` on a free port; {@link #awaitServe()} waits for its startup line. */
    public static PdInstance serve(String name, Path logDir, Path model, String kvTransferConfig) throws IOException {
        List<String> args = new ArrayList<>(List.of("--kv-cache-memory", "16MiB"));
        if (kvTransferConfig != null) args.addAll(List.of("--kv-transfer-config", kvTransferConfig));
        return serve(name, logDir, model, args);
    }

    /** Starts `serve MODEL` on a free loopback port (model name "tiny", one thread) with {@code extraArgs}. */
    public static PdInstance serve(String name, Path logDir, Path model, List<String> extraArgs) throws IOException {
        return serve(name, logDir, model, 0, extraArgs);
    }

    /** Starts `serve MODEL` on loopback port {@code port} (0: a free one), e.g. to restart an instance where it was. */
    public static PdInstance serve(String name, Path logDir, Path model, int port, List<String> extraArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of("serve", model.toString(), "--host", "127.0.0.1", "--port", String.valueOf(port),
                "--served-model-name", "tiny", "--threads", "1", "--max-model-len", "1024"));
        args.addAll(extraArgs);
        return launch(name, logDir, args);
    }

    /** Waits for vLLM's startup line and reads the port from the line before it; fails with the log if the child exits. */
    public PdInstance awaitServe() throws Exception {
        Await.until(name + " to print 'Application startup complete.' in " + log, STARTUP, () -> {
            String text = text(log);
            if (text.contains("Application startup complete.")) {
                Matcher m = PORT.matcher(text);
                if (m.find()) port = Integer.parseInt(m.group(1));
                return true;
            }
            if (!process.isAlive()) throw new IllegalStateException(name + " exited with code " + process.exitValue() + " before it was ready; " + log + ":\n" + text);
            return false;
        });
        if (port < 0) throw new IllegalStateException(name + " printed no port; " + log + ":\n" + text(log));
        return this;
    }

    /** Starts `proxy` in front of one prefill and one decode instance, and waits until it answers. */
    static PdInstance proxy(String name, Path logDir, List<PdInstance> prefill, List<PdInstance> decode) throws Exception {
        return proxy(name, logDir, prefill, decode, List.of("--prefill-threshold", "0")); // these tests are about the transfer
    }

    /** Starts `proxy` with {@code extraArgs} in front of the instances, and waits until it answers. */
    public static PdInstance proxy(String name, Path logDir, List<PdInstance> prefill, List<PdInstance> decode, List<String> extraArgs) throws Exception {
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
        args.addAll(extraArgs);
        PdInstance proxy = launch(name, logDir, args);
        proxy.port = port;
        Await.until(name + " to listen on port " + port, STARTUP, () -> {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return true;
            } catch (IOException e) {
                if (!proxy.process.isAlive()) throw new IllegalStateException(name + " did not start; " + proxy.log + ":\n" + text(proxy.log));
                return false;
            }
        });
        return proxy;
    }

    public HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
    }

    public JsonNode postJson(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = post(path, body);
        if (r.statusCode() != 200) throw new AssertionError(name + " " + path + " answered " + r.statusCode() + ": " + r.body());
        return JSON.readTree(r.body());
    }

    public String metrics() throws IOException, InterruptedException {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(30)).GET().build();
        return HTTP.send(r, HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The sum over all label sets of one metric's samples; 0 when absent. */
    public double metric(String name) throws IOException, InterruptedException {
        return metric(metrics(), name);
    }

    /** The sum over all label sets of one metric's samples in a scrape; 0 when absent. */
    static double metric(String scrape, String name) {
        double sum = 0;
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*\\} (\\S+)$").matcher(scrape);
        while (m.find()) sum += Double.parseDouble(m.group(1));
        return sum;
    }

    /** Waits until no KV block is in use or leased; fails with the metrics and the log's path otherwise. */
    public void awaitIdle() throws Exception {
        try {
            Await.until(name + " to hold no KV block", () -> metric("vllm:kv_cache_usage_perc") == 0 && metric("pdserve:kv_blocks_leased") == 0);
        } catch (AssertionError e) {
            throw new AssertionError(name + " still holds KV blocks (log " + log + "):\n" + metrics(), e);
        }
    }

    /** The log so far (a line being written may end mid-character). */
    private static String text(Path log) throws IOException {
        return new String(Files.readAllBytes(log), java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public String toString() { return name + " (log " + log + ")"; }

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
