package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.http.RawHttp;
import dev.pdserve.proxy.InstanceAddress;
import dev.pdserve.proxy.ProxyConfig;
import dev.pdserve.proxy.ProxyServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What no well-behaved client sends, written to the socket by hand, against the server and the
 * proxy alike (their edge is one package, dev.pdserve.http): every answer is an OpenAI JSON error
 * with a 4xx status, never a 5xx or an empty body, and the listener keeps serving.
 */
class HttpEdgeFaultsTest {
    static ScriptedEngine engine;
    static OpenAiServer server;
    static ProxyServer proxy;

    enum Target { SERVE, PROXY }

    static final Map<String, List<String>> ROUTES = Map.of(
            "/v1/completions", List.of("POST"), "/v1/chat/completions", List.of("POST"), "/v1/models", List.of("GET", "HEAD"),
            "/health", List.of("GET", "HEAD"), "/metrics", List.of("GET", "HEAD"));
    static final Map<String, List<String>> SERVE_ONLY = Map.of(
            "/version", List.of("GET", "HEAD"), "/tokenize", List.of("POST"), "/detokenize", List.of("POST"));
    static final Map<String, List<String>> PROXY_ONLY = Map.of(
            "/healthcheck", List.of("GET", "HEAD"), "/instances/add", List.of("POST"), "/instances/remove", List.of("POST"));
    static final List<String> METHODS = List.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW");

    @BeforeAll
    static void start() {
        engine = new ScriptedEngine(64, 1);
        server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny")).start();
        InstanceAddress self = InstanceAddress.parse("127.0.0.1:" + server.port());
        proxy = ProxyServer.start(new ProxyConfig().host("127.0.0.1").port(0).prefillers(List.of(self)).decoders(List.of(self))
                .healthInterval(Duration.ZERO).requestTimeout(Duration.ofSeconds(20)));
    }

    @AfterAll
    static void stop() {
        proxy.close();
        server.close();
        engine.close();
    }

    static int port(Target t) { return t == Target.SERVE ? server.port() : proxy.port(); }

    static final String BODY = "{\"prompt\":\"hello\",\"max_tokens\":1}";

    static RawHttp.Response post(Target t, String headers, String rest, boolean fin) throws Exception {
        return RawHttp.exchange(port(t), "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n" + rest, fin);
    }

    /** A 4xx JSON error, and the listener still answers a good request. */
    static JsonNode refused(Target t, RawHttp.Response r, int status) throws Exception {
        assertThat(r.status()).as(r.toString()).isEqualTo(status);
        JsonNode e = r.error();
        stillServes(t);
        return e;
    }

    static void stillServes(Target t) throws Exception {
        RawHttp.Response ok = post(t, "Content-Length: " + BODY.length() + "\r\nConnection: close\r\n", BODY, false);
        assertThat(ok.status()).as(ok.toString()).isEqualTo(200);
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void aBodyCutShortThenFinIs400(Target t) throws Exception {
        refused(t, post(t, "Content-Length: 100\r\n", BODY, true), 400);
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void badChunkSizesAre400(Target t) throws Exception {
        for (String size : List.of("zz", "-1", "10000000000000000", "ffffffffffffffffffff", "")) {
            String chunked = size + "\r\n" + BODY + "\r\n0\r\n\r\n";
            JsonNode e = refused(t, post(t, "Transfer-Encoding: chunked\r\n", chunked, true), 400);
            assertThat(e.get("message").asText()).as(size).isNotBlank();
        }
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void trailingBytesAfterTheObjectAre400(Target t) throws Exception {
        for (String body : List.of(BODY + " trailing", BODY + "{}", BODY + "]", BODY + BODY)) {
            JsonNode e = refused(t, post(t, "Content-Length: " + body.length() + "\r\n", body, false), 400);
            assertThat(e.get("message").asText()).contains("not valid JSON");
        }
        // Whitespace after the object is not garbage.
        String spaced = BODY + " \r\n\t";
        assertThat(post(t, "Content-Length: " + spaced.length() + "\r\nConnection: close\r\n", spaced, false).status()).isEqualTo(200);
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void aTlsClientHelloIs400Json(Target t) throws Exception {
        SSLEngine tls = SSLContext.getDefault().createSSLEngine("localhost", port(t));
        tls.setUseClientMode(true);
        ByteBuffer hello = ByteBuffer.allocate(tls.getSession().getPacketBufferSize());
        tls.beginHandshake();
        tls.wrap(ByteBuffer.allocate(0), hello);
        hello.flip();
        byte[] bytes = new byte[hello.remaining()];
        hello.get(bytes);
        assertThat(bytes[0]).isEqualTo((byte) 0x16); // a TLS handshake record
        refused(t, RawHttp.exchange(port(t), bytes, true), 400);
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void framework400And414HaveJsonBodies(Target t) throws Exception {
        refused(t, RawHttp.exchange(port(t), "GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n", true), 414);
        refused(t, RawHttp.exchange(port(t), "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", true), 400);
        refused(t, RawHttp.exchange(port(t), "GARBAGE\r\n\r\n", true), 400);
        refused(t, RawHttp.exchange(port(t), "GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + "b".repeat(20_000) + "\r\n\r\n", true), 400);
        refused(t, post(t, "Content-Length: abc\r\n", BODY, true), 400);
        refused(t, post(t, "Content-Length: 5\r\nContent-Length: 7\r\n", BODY, true), 400);
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void everyMethodOnEveryPathIsServedOr4xxJson(Target t) throws Exception {
        java.util.Map<String, List<String>> routes = new java.util.TreeMap<>(ROUTES);
        routes.putAll(t == Target.SERVE ? SERVE_ONLY : PROXY_ONLY);
        routes.put("/nothing/here", List.of());
        routes.put("/v1/completions/", List.of());
        routes.put("/", List.of());
        for (var route : routes.entrySet()) {
            for (String method : METHODS) {
                String req = method + " " + route.getKey() + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                RawHttp.Response r = RawHttp.exchange(port(t), req, false);
                String what = method + " " + route.getKey() + " -> " + r;
                assertThat(r.status()).as(what).isBetween(200, 499);
                if (!route.getValue().contains(method)) {
                    int want = route.getValue().isEmpty() ? 404 : 405;
                    assertThat(r.status()).as(what).isEqualTo(want);
                    assertThat(r.error().get("message").asText()).as(what).contains(route.getValue().isEmpty() ? "Not Found" : "not allowed");
                    if (want == 405) assertThat(r.header("allow")).as(what).isEqualTo(String.join(", ", route.getValue()));
                } else if (r.status() >= 300 && !method.equals("HEAD")) {
                    r.error(); // a POST without a body: the endpoint's own 4xx, as JSON
                }
            }
        }
        stillServes(t);
    }
}
