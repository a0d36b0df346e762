package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.proxy.FakeInstance.Mode;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.TIMEOUT;
import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/** Failures: retries before the first byte, pass-through of 4xx, mid-stream deaths, breakers, health, disconnects. */
class ProxyFailureTest extends ProxyHarness {

    @Test
    void prefill5xxIsRetriedOnTheOtherInstance() throws Exception {
        FakeInstance bad = fake("PBAD"), good = fake("PGOOD"), d = fake("D");
        bad.mode = Mode.FAIL_500;
        ProxyServer proxy = proxy(List.of(bad, good), List.of(d));
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}", "X-Request-Id", "r" + i);
            assertThat(r.statusCode()).isEqualTo(200);
        }
        assertThat(bad.posts()).isNotEmpty(); // it was tried ...
        assertThat(good.posts()).hasSize(4); // ... and every request then went to the other instance, once
        for (FakeInstance.Received b : bad.posts())
            assertThat(bad.posts().stream().filter(x -> x.headers().get("x-request-id").equals(b.headers().get("x-request-id")))).hasSize(1);
        assertThat(get(proxy, "/metrics").body()).containsPattern("pdserve_proxy_retries_total\\{role=\"prefill\"} [1-9]");
    }

    @Test
    void connectionErrorsBeforeTheFirstByteAreRetried() throws Exception {
        FakeInstance p = fake("P"), d = fake("D"), gone = fake("GONE");
        gone.close(); // connection refused
        d.fail(Mode.DROP_BEFORE_RESPONSE, 1);
        p.fail(Mode.DROP_BEFORE_RESPONSE, 1);
        // Four attempts: when every decoder has been tried once, the retries take turns over them.
        ProxyServer proxy = proxy(List.of(p), List.of(gone, d), c -> c.maxRetries(3));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"stream\":true}");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(sseData(r.body())).last().isEqualTo("[DONE]");
        assertThat(p.posts()).hasSize(2); // dropped, then retried on the only prefiller
        assertThat(d.posts()).hasSizeBetween(1, 2);
    }

    @Test
    void a4xxIsPassedThroughAndNeverRetried() throws Exception {
        FakeInstance p1 = fake("P1"), p2 = fake("P2"), d = fake("D");
        p1.mode = Mode.BAD_REQUEST_400;
        p2.mode = Mode.BAD_REQUEST_400;
        ProxyServer proxy = proxy(List.of(p1, p2), List.of(d));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":99999}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/message").asText()).endsWith("max_tokens is too large");
        assertThat(p1.posts().size() + p2.posts().size()).isEqualTo(1);
        assertThat(d.posts()).isEmpty();

        p1.mode = Mode.OK;
        p2.mode = Mode.OK;
        d.mode = Mode.BAD_REQUEST_400;
        r = post(proxy, "/v1/chat/completions", "{\"messages\":[],\"stream\":true}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/code").asInt()).isEqualTo(400);
        assertThat(d.posts()).hasSize(1);
    }

    @Test
    void decoderDyingMidStreamEndsWithAnErrorEventNeverASilentCut() throws Exception {
        FakeInstance p = fake("P"), d1 = fake("D1"), d2 = fake("D2");
        for (FakeInstance d : List.of(d1, d2)) {
            d.mode = Mode.DROP_MID_STREAM;
            d.dropAfterEvents = 2;
        }
        ProxyServer proxy = proxy(List.of(p), List.of(d1, d2));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"stream\":true}");
        assertThat(r.statusCode()).isEqualTo(200);
        List<String> data = sseData(r.body());
        assertThat(data).hasSize(4);
        assertThat(data.get(1)).contains("-tok1");
        JsonNode err = json(data.get(2)).get("error");
        assertThat(err.get("type").asText()).isEqualTo("upstream_error");
        assertThat(err.get("code").asInt()).isEqualTo(502);
        assertThat(err.get("message").asText()).contains("decode instance 127.0.0.1:").contains("mid-stream");
        assertThat(data.get(3)).isEqualTo("[DONE]");
        assertThat(d1.posts().size() + d2.posts().size()).isEqualTo(1); // bytes were sent: no retry

        for (FakeInstance d : List.of(d1, d2)) d.mode = Mode.STREAM_NO_DONE;
        data = sseData(post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"stream\":true}").body());
        assertThat(data).hasSize(6);
        assertThat(json(data.get(4)).at("/error/message").asText()).contains("before data: [DONE]");
        assertThat(data.get(5)).isEqualTo("[DONE]");
    }

    @Test
    void nonStreamingDecodeFailureIsRetriedThenBecomesA502() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        d.fail(Mode.EMPTY_200, 1);
        d.fail(Mode.DROP_BEFORE_RESPONSE, 1);
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r.body()).at("/choices/0/text").asText()).startsWith("D-tok0");
        assertThat(d.posts()).hasSize(3);

        d.mode = Mode.FAIL_500;
        r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(502);
        JsonNode err = json(r.body()).get("error");
        assertThat(err.get("type").asText()).isEqualTo("upstream_error");
        assertThat(err.get("code").asInt()).isEqualTo(502);
        assertThat(err.get("message").asText()).contains("decode instance " + d.address()).contains("HTTP 500").contains("3 attempt");
        assertThat(err.has("param")).isTrue();

        d.mode = Mode.EMPTY_200;
        r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(json(r.body()).at("/error/message").asText()).contains("empty body");
    }

    /** A prefill instance that is no kv_producer (vLLM without a connector): the decode instance gets the request as sent, as vllm-ascend's proxy does. */
    @Test
    void prefillWithoutKvTransferParamsLeavesTheWholeRequestToDecode() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        p.mode = Mode.NO_KV_PARAMS;
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        String body = "{\"prompt\":\"x\",\"max_tokens\":7}";
        HttpResponse<String> r = post(proxy, "/v1/completions", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(json(r.body()).at("/choices/0/text").asText()).startsWith("D-tok0");
        assertThat(d.last().body()).isEqualTo(json(body));
    }

    /** With decode instances only, the proxy is a plain load balancer: no prefill hop, the body as sent, spread over them. */
    @Test
    void decodeInstancesAloneMakeALoadBalancer() throws Exception {
        FakeInstance d1 = fake("D1"), d2 = fake("D2");
        ProxyServer proxy = proxy(List.of(), List.of(d1, d2));
        String body = "{\"prompt\":\"x\",\"max_tokens\":7}";
        for (int i = 0; i < 4; i++) assertThat(post(proxy, "/v1/completions", body).statusCode()).isEqualTo(200);
        assertThat(d1.posts()).hasSize(2);
        assertThat(d2.posts()).hasSize(2);
        for (FakeInstance d : List.of(d1, d2)) for (var q : d.posts()) assertThat(q.body()).isEqualTo(json(body));
        HttpResponse<String> s = post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"stream\":true}");
        assertThat(s.body()).contains("-tok0").endsWith("data: [DONE]\n\n");
        assertThat(json(get(proxy, "/healthcheck").body()).get("status").asText()).isEqualTo("ok");
    }

    @Test
    void badJsonIs400AndNoInstanceIs503() throws Exception {
        FakeInstance p = fake("P");
        ProxyServer proxy = proxy(List.of(p), List.of());
        HttpResponse<String> r = post(proxy, "/v1/completions", "{not json");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/type").asText()).isEqualTo("BadRequestError");
        assertThat(post(proxy, "/v1/completions", "[1,2]").statusCode()).isEqualTo(400);
        r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(json(r.body()).at("/error/message").asText()).contains("no healthy decode instance");
    }

    @Test
    void circuitBreakerOpensThenHalfOpensAndCloses() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        p.mode = Mode.FAIL_500;
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.maxRetries(0).breakerFailures(2).breakerCooldown(Duration.ofMillis(1000)));
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(502);
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(502);
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(503); // open: the instance is not even tried
        assertThat(json(r.body()).at("/error/message").asText()).contains("prefill").contains("circuit breakers are open");
        assertThat(p.posts()).hasSize(2);
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/0/circuit").asText()).isEqualTo("open");

        p.mode = Mode.OK;
        clock.advance(Duration.ofMillis(999)); // still cooling down: not tried
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(503);
        assertThat(p.posts()).hasSize(2);
        clock.advance(Duration.ofMillis(1));
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(200); // half-open probe
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/0/circuit").asText()).isEqualTo("closed");

        p.mode = Mode.FAIL_500;
        post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/0/circuit").asText()).isEqualTo("open");
        clock.advance(Duration.ofMillis(1000));
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(502); // the half-open probe fails ...
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/0/circuit").asText()).isEqualTo("open"); // ... open again at once
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(503);
        assertThat(p.posts()).hasSize(6);
    }

    @Test
    void healthProbesTakeADeadInstanceOutAndBringItBack() throws Exception {
        FakeInstance p = fake("P"), d1 = fake("D1"), d2 = fake("D2");
        ProxyServer proxy = proxy(List.of(p), List.of(d1, d2), c -> c.healthInterval(Duration.ofMillis(100)));
        d1.healthStatus = 503;
        until("d1 marked unhealthy", () -> !healthy(proxy, 0));
        for (int i = 0; i < 3; i++) assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(200);
        assertThat(d1.posts()).isEmpty();
        assertThat(d2.posts()).hasSize(3);

        d2.close(); // dead: nothing listens any more
        until("d2 marked unhealthy", () -> !healthy(proxy, 1));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(json(r.body()).at("/error/message").asText()).contains("decode");
        assertThat(json(get(proxy, "/healthcheck").body()).get("status").asText()).isEqualTo("degraded");

        assertThat(json(get(proxy, "/healthcheck").body()).at("/decode/0/last_error").asText()).isEqualTo("/health answered HTTP 503");
        d1.healthStatus = 200;
        until("d1 healthy again", () -> healthy(proxy, 0));
        assertThat(json(get(proxy, "/healthcheck").body()).at("/decode/0/last_error").isNull()).as("no stale error beside healthy").isTrue();
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(200);
        assertThat(d1.posts()).hasSize(1);
        assertThat(d1.healthHits.get()).isGreaterThan(2);
    }

    private static boolean healthy(ProxyServer proxy, int decoder) throws Exception {
        return json(get(proxy, "/healthcheck").body()).at("/decode/" + decoder + "/healthy").asBoolean();
    }

    @Test
    void clientDisconnectClosesTheDecodeConnection() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        // Tokens keep coming (a streaming relay sees a client gone at its next write), for minutes unless the proxy hangs up.
        d.tokens = 10_000;
        d.tokenDelayMs = 30;
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
            String body = "{\"prompt\":\"x\",\"stream\":true}";
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder seen = new StringBuilder();
            while (!seen.toString().contains("D-tok1")) {
                int c = in.read();
                assertThat(c).isNotNegative();
                seen.append((char) c);
            }
        } // the client goes away mid-stream
        assertThat(d.peerClosed.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("decode instance saw its connection closed").isTrue();
        until("disconnect counted", () -> get(proxy, "/metrics").body().contains("pdserve_proxy_requests_total{outcome=\"client_disconnect\"} 1.0"));
        assertThat(json(get(proxy, "/healthcheck").body()).at("/decode/0/active_requests").asInt()).isZero();
    }

    @Test
    void aTimedOutPrefillIsAbortedOnTheInstanceAndBecomesA502() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        p.hold(); // never released: only the proxy's timeout ends the call
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.maxRetries(0).requestTimeout(Duration.ofMillis(300)));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(json(r.body()).at("/error/message").asText()).contains("prefill instance " + p.address()).contains("within 300 ms");
        assertThat(p.peerClosed.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("prefill instance saw its connection closed").isTrue();
        assertThat(d.posts()).isEmpty();
    }

    @Test
    void aStalledStreamEndsWithAnErrorEventAfterTheIdleTimeout() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        d.hold(); // the stream stalls after its first event, for good
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.requestTimeout(Duration.ofMillis(400)));
        HttpResponse<String> r = post(proxy, "/v1/chat/completions", "{\"messages\":[],\"stream\":true}");
        List<String> data = sseData(r.body());
        assertThat(data).hasSize(3);
        assertThat(data.get(0)).contains("D-tok0");
        assertThat(json(data.get(1)).at("/error/message").asText()).contains("no data for 400 ms");
        assertThat(data.get(2)).isEqualTo("[DONE]");
        assertThat(d.peerClosed.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("decode instance saw its connection closed").isTrue();
    }
}
