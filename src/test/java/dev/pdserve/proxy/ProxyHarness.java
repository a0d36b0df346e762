package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.ManualClock;
import org.junit.jupiter.api.AfterEach;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Starts fake instances and a real proxy on loopback, and closes them after each test. Circuit
 * breakers cool down by {@link #clock}, which moves only when a test moves it.
 */
abstract class ProxyHarness {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final List<AutoCloseable> open = new ArrayList<>();
    final ManualClock clock = new ManualClock();

    FakeInstance fake(String name) throws IOException {
        FakeInstance f = new FakeInstance(name);
        open.add(f);
        return f;
    }

    /** A proxy in front of the fakes: fast retries, short timeouts, no health probes unless a test asks. */
    ProxyServer proxy(List<FakeInstance> prefill, List<FakeInstance> decode, Consumer<ProxyConfig> tweak) {
        ProxyConfig c = new ProxyConfig().host("127.0.0.1").port(0)
                .prefillers(prefill.stream().map(FakeInstance::address).toList())
                .decoders(decode.stream().map(FakeInstance::address).toList())
                .maxRetries(2).retryDelay(Duration.ofMillis(1)).healthInterval(Duration.ZERO)
                .requestTimeout(Duration.ofSeconds(5)).connectTimeout(Duration.ofSeconds(1))
                .breakerFailures(100).breakerCooldown(Duration.ofMillis(300)).nanoClock(clock);
        tweak.accept(c);
        ProxyServer p = ProxyServer.start(c);
        open.add(p);
        return p;
    }

    ProxyServer proxy(List<FakeInstance> prefill, List<FakeInstance> decode) {
        return proxy(prefill, decode, c -> { });
    }

    static HttpResponse<String> post(ProxyServer p, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + path))
                .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) b.headers(headers);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(ProxyServer p, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + path))
                .timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(String s) throws IOException {
        return JSON.readTree(s);
    }

    /** The JSON payloads of an SSE body's {@code data:} lines, in order. */
    static List<String> sseData(String body) {
        List<String> out = new ArrayList<>();
        for (String line : body.split("\n")) if (line.startsWith("data: ")) out.add(line.substring(6));
        return out;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) c.close();
        open.clear();
    }
}
