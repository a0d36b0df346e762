package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.Await;
import dev.pdserve.proxy.FakeInstance.Mode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a hostile or broken request or instance can do to the proxy's routing: errors that are the
 * request's are passed on without retry and without counting against the instance; a stream whose pull
 * failed is retried; an instance of the wrong role is taken out; a loop is refused; the client's bytes
 * (numbers, request ids) reach the instances as the client wrote them. Fake instances on loopback.
 */
class ProxyHostileTest extends ProxyHarness {
    private static final String COMPLETION = "{\"prompt\":\"hello\",\"max_tokens\":4}";

    private JsonNode instance(ProxyServer proxy, String type, FakeInstance f) throws Exception {
        for (JsonNode n : json(get(proxy, "/healthcheck").body()).get(type)) if (n.get("instance").asText().equals(f.address().toString())) return n;
        throw new AssertionError(f.name + " is not in /healthcheck");
    }

    @Test
    void aFourHundredIsPassedOnNeverRetriedAndNotCounted() throws Exception {
        FakeInstance p = fake("p"), d1 = fake("d1"), d2 = fake("d2");
        ProxyServer proxy = proxy(List.of(p), List.of(d1, d2), c -> c.breakerFailures(1));
        d1.fail(Mode.BAD_REQUEST_400, 1);
        d2.fail(Mode.BAD_REQUEST_400, 1);
        p.fail(Mode.BAD_REQUEST_400, 1);
        HttpResponse<String> r = post(proxy, "/v1/completions", COMPLETION);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(p.posts()).hasSize(1);
        assertThat(instance(proxy, "prefill", p).get("circuit").asText()).isEqualTo("closed");
        assertThat(instance(proxy, "prefill", p).get("consecutive_failures").asInt()).isZero();
        r = post(proxy, "/v1/completions", COMPLETION);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(d1.posts().size() + d2.posts().size()).as("the decode's 400 is not retried on the other decoder").isEqualTo(1);
        for (FakeInstance d : List.of(d1, d2)) assertThat(instance(proxy, "decode", d).get("circuit").asText()).isEqualTo("closed");
        d1.script.clear();
        d2.script.clear();
        assertThat(post(proxy, "/v1/completions", COMPLETION).statusCode()).isEqualTo(200);
    }

    @Test
    void aFiveHundredTheRequestCausedIsPassedOnNeverRetriedAndNotCounted() throws Exception {
        FakeInstance p1 = fake("p1"), p2 = fake("p2"), d = fake("d");
        ProxyServer proxy = proxy(List.of(p1, p2), List.of(d), c -> c.breakerFailures(1));
        p1.fail(Mode.FAIL_500_REQUEST_CAUSED, 1);
        p2.fail(Mode.FAIL_500_REQUEST_CAUSED, 1);
        HttpResponse<String> r = post(proxy, "/v1/completions", COMPLETION);
        assertThat(r.statusCode()).isEqualTo(500);
        assertThat(r.headers().firstValue("x-pdserve-error-cause")).hasValue("request");
        assertThat(json(r.body()).at("/error/message").asText()).contains("this request's temperature broke the sampler");
        assertThat(p1.posts().size() + p2.posts().size()).as("not retried").isEqualTo(1);
        for (FakeInstance p : List.of(p1, p2)) assertThat(instance(proxy, "prefill", p).get("circuit").asText()).isEqualTo("closed");
        // An unmarked 500 is still the instance's: retried on the other one.
        p1.script.clear();
        p2.script.clear();
        p1.fail(Mode.FAIL_500, 1);
        for (int i = 0; i < 3; i++) assertThat(post(proxy, "/v1/completions", COMPLETION).statusCode()).isEqualTo(200);
        assertThat(p1.posts().size() + p2.posts().size()).as("3 requests, one retry").isEqualTo(1 + 3 + 1);
        assertThat(instance(proxy, "prefill", p1).get("circuit").asText()).isEqualTo("open");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/v1/completions", "/v1/chat/completions"})
    void aStreamWhosePullFailedIsRetriedBeforeAnythingReachedTheClient(String path) throws Exception {
        FakeInstance p = fake("p"), broken = fake("broken"), good = fake("good");
        ProxyServer proxy = proxy(List.of(p), List.of(broken, good));
        String body = path.contains("chat") ? "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,\"max_tokens\":4}"
                : "{\"prompt\":\"hi\",\"stream\":true,\"max_tokens\":4}";
        for (int i = 0; i < 4; i++) {
            broken.fail(Mode.STREAM_PULL_FAILED_502, 1);
            good.fail(Mode.STREAM_PULL_FAILED_502, 1); // whichever is picked first fails once
            HttpResponse<String> r = post(proxy, path, body);
            assertThat(r.statusCode()).isEqualTo(200);
            List<String> events = sseData(r.body());
            assertThat(events.getLast()).isEqualTo("[DONE]");
            assertThat(r.body()).as("no error reached the client").doesNotContain("\"error\"").contains("-tok3");
            broken.script.clear();
            good.script.clear();
        }
        // The request's own fault in a stream (another request's KV) is relayed as the instance sent it, not retried.
        broken.mode = Mode.STREAM_PULL_REFUSED_400;
        good.mode = Mode.STREAM_PULL_REFUSED_400;
        int before = broken.posts().size() + good.posts().size();
        HttpResponse<String> r = post(proxy, path, body);
        assertThat(r.body()).contains("\"code\":400").endsWith("data: [DONE]\n\n");
        assertThat(broken.posts().size() + good.posts().size() - before).isEqualTo(1);
    }

    @Test
    void anInstanceOfTheWrongRoleIsTakenOutAndRefusedAtAdd() throws Exception {
        FakeInstance decoderAsPrefill = fake("decoder"), p = fake("p"), d = fake("d");
        decoderAsPrefill.kvRole = "kv_consumer";
        p.kvRole = "kv_producer";
        d.kvRole = "kv_consumer";
        ProxyServer proxy = proxy(List.of(decoderAsPrefill, p), List.of(d), c -> c.healthInterval(Duration.ofMillis(50)).adminApiKey("k"));
        Await.until("the health probe to take the decoder out", () -> !instance(proxy, "prefill", decoderAsPrefill).get("healthy").asBoolean());
        assertThat(instance(proxy, "prefill", decoderAsPrefill).get("last_error").asText())
                .isEqualTo("role mismatch: registered as a prefill instance but its kv_role is kv_consumer");
        for (int i = 0; i < 4; i++) assertThat(post(proxy, "/v1/completions", COMPLETION).statusCode()).isEqualTo(200);
        assertThat(decoderAsPrefill.posts()).isEmpty();

        FakeInstance producer = fake("producer");
        producer.kvRole = "kv_producer";
        HttpResponse<String> r = post(proxy, "/instances/add", "{\"type\":\"decode\",\"instances\":[\"" + producer.address() + "\"]}", "X-API-Key", "k");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/message").asText()).contains("role mismatch: registered as a decode instance but its kv_role is kv_producer");
        assertThat(json(get(proxy, "/healthcheck").body()).get("decode")).hasSize(1);
        // No kv_role (vLLM): nothing known, nothing refused.
        FakeInstance vllm = fake("vllm");
        assertThat(post(proxy, "/instances/add", "{\"type\":\"decode\",\"instances\":[\"" + vllm.address() + "\"]}", "X-API-Key", "k").statusCode()).isEqualTo(200);
    }

    @Test
    void numbersGoOnAsWrittenAndTrailingBytesAreRefused() throws Exception {
        FakeInstance p = fake("p"), d = fake("d");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"temperature\":1e400,\"top_p\":0.10,\"seed\":123456789012345678901234567890}").statusCode())
                .isEqualTo(200);
        for (FakeInstance f : List.of(p, d)) {
            String raw = new String(f.last().raw(), StandardCharsets.UTF_8);
            assertThat(raw).contains("\"temperature\":1E+400").contains("\"top_p\":0.10").contains("\"seed\":123456789012345678901234567890")
                    .doesNotContain("Infinity");
        }
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"} {\"more\":1}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/message").asText()).contains("not valid JSON");
        assertThat(p.posts()).hasSize(1);
    }

    @Test
    void aNonAsciiRequestIdIsForwardedPercentEncoded() throws Exception {
        FakeInstance p = fake("p"), d = fake("d");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        byte[] body = COMPLETION.getBytes(StandardCharsets.UTF_8);
        String status;
        String echoed = null;
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                    + body.length + "\r\nX-Request-Id: ").getBytes(StandardCharsets.US_ASCII));
            out.write("req-é 1".getBytes(StandardCharsets.UTF_8));
            out.write("\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder h = new StringBuilder();
            while (h.indexOf("\r\n\r\n") < 0) h.append((char) in.read()); // the head is enough
            String head = h.toString();
            status = head.substring(0, head.indexOf("\r\n"));
            for (String line : head.split("\r\n")) if (line.toLowerCase().startsWith("x-request-id:")) echoed = line.substring(13).strip();
        }
        assertThat(status).contains(" 200 ");
        // The server reads header bytes it cannot decode as U+FFFD; whatever came in goes on as visible ASCII.
        assertThat(echoed).matches("req-(%[0-9A-F]{2})+%201");
        assertThat(d.last().headers().get("x-request-id")).isEqualTo(echoed);
        assertThat(p.last().headers().get("x-request-id")).isEqualTo(echoed);
        assertThat(RequestIds.sanitise("plain-id_1.2")).isEqualTo("plain-id_1.2");
        assertThat(RequestIds.sanitise("a\u00e9\u4e2d%")).isEqualTo("a%E9%E4%B8%AD%25");
    }

    @Test
    void aProxyCannotBeTurnedOnItself() throws Exception {
        FakeInstance d = fake("d");
        ProxyServer a = proxy(List.of(), List.of(d), c -> c.adminApiKey("k"));
        ProxyServer b = proxy(List.of(), List.of(d), c -> c.adminApiKey("k"));
        HttpResponse<String> r = post(a, "/instances/add", "{\"type\":\"prefill\",\"instances\":[\"127.0.0.1:" + a.port() + "\"]}", "X-API-Key", "k");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/message").asText()).contains("is this proxy's own address");
        r = post(a, "/instances/add", "{\"type\":\"prefill\",\"instances\":[\"localhost:" + a.port() + "\"]}", "X-API-Key", "k");
        assertThat(r.statusCode()).isEqualTo(400);
        // A ring: a's prefill is b, b's prefill is a. The hop header stops it at the first return.
        assertThat(post(a, "/instances/add", "{\"type\":\"prefill\",\"instances\":[\"127.0.0.1:" + b.port() + "\"]}", "X-API-Key", "k").statusCode()).isEqualTo(200);
        assertThat(post(b, "/instances/add", "{\"type\":\"prefill\",\"instances\":[\"127.0.0.1:" + a.port() + "\"]}", "X-API-Key", "k").statusCode()).isEqualTo(200);
        r = post(a, "/v1/completions", COMPLETION);
        assertThat(r.statusCode()).isEqualTo(508);
        assertThat(json(r.body()).at("/error/message").asText()).contains("Loop detected");
        assertThat(d.posts()).as("nothing reached a decoder").isEmpty();
    }
}
