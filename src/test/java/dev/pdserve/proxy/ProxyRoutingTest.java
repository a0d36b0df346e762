package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.KeepAliveStreams;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/** The PD request contract: what prefill and decode instances receive, and what the client gets back. */
class ProxyRoutingTest extends ProxyHarness {
    /** One thread per request (the common pool has a single thread on a 2-core machine). */
    private static final java.util.concurrent.Executor PARALLEL = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    @Test
    void completionPrefillIsCutToOneTokenAndDecodeGetsTheOriginalPlusKvParams() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        String body = "{\"model\":\"m\",\"prompt\":\"def fib(n):\",\"max_tokens\":40,\"temperature\":0.5}";
        HttpResponse<String> r = post(proxy, "/v1/completions", body,
                "X-Request-Id", "req-42", "Authorization", "Bearer sk-test", "Content-Type", "application/json");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("X-Request-Id")).contains("req-42");
        assertThat(json(r.body()).at("/choices/0/text").asText()).isEqualTo("D-tok0 D-tok1 D-tok2 D-tok3 ");

        JsonNode pre = p.last().body();
        assertThat(pre).isEqualTo(json("{\"model\":\"m\",\"prompt\":\"def fib(n):\",\"max_tokens\":1,\"temperature\":0.5,"
                + "\"min_tokens\":1,\"stream\":false,\"kv_transfer_params\":{\"do_remote_decode\":true,"
                + "\"do_remote_prefill\":false,\"remote_engine_id\":null,\"remote_block_ids\":null,"
                + "\"remote_host\":null,\"remote_port\":null}}"));
        assertThat(p.last().path()).isEqualTo("/v1/completions");

        JsonNode dec = d.last().body();
        JsonNode expected = json(body);
        ((com.fasterxml.jackson.databind.node.ObjectNode) expected).set("kv_transfer_params", json(
                "{\"do_remote_prefill\":true,\"do_remote_decode\":false,\"remote_engine_id\":\"engine-P\","
                        + "\"remote_block_ids\":[1,2,3],\"remote_host\":\"127.0.0.1\",\"remote_port\":" + p.port()
                        + ",\"remote_request_id\":\"req-42\"}"));
        assertThat(dec).isEqualTo(expected);
        assertThat(d.last().path()).isEqualTo("/v1/completions");
        for (FakeInstance f : List.of(p, d)) {
            assertThat(f.last().headers()).containsEntry("x-request-id", "req-42").containsEntry("authorization", "Bearer sk-test");
        }
    }

    @Test
    void chatStreamsSseThroughWithDoneAndStreamOptionsOnlyReachDecode() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":50,"
                + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpResponse<String> r = post(proxy, "/v1/chat/completions", body);

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        assertThat(r.headers().firstValue("X-Request-Id").orElse("")).isNotBlank(); // generated when absent
        List<String> data = sseData(r.body());
        assertThat(data).hasSize(5).last().isEqualTo("[DONE]");
        for (int i = 0; i < 4; i++) assertThat(json(data.get(i)).at("/choices/0/delta/content").asText()).isEqualTo("D-tok" + i + " ");

        JsonNode pre = p.last().body();
        assertThat(p.last().path()).isEqualTo("/v1/chat/completions");
        assertThat(pre.get("max_completion_tokens").asInt()).isEqualTo(1);
        assertThat(pre.get("max_tokens").asInt()).isEqualTo(1);
        assertThat(pre.get("min_tokens").asInt()).isEqualTo(1);
        assertThat(pre.get("stream").asBoolean()).isFalse();
        assertThat(pre.has("stream_options")).isFalse();
        assertThat(pre.get("messages")).isEqualTo(json(body).get("messages"));

        JsonNode dec = d.last().body();
        assertThat(d.last().path()).isEqualTo("/v1/chat/completions");
        assertThat(dec.get("stream_options")).isEqualTo(json("{\"include_usage\":true}"));
        assertThat(dec.get("max_completion_tokens").asInt()).isEqualTo(50);
        assertThat(dec.get("stream").asBoolean()).isTrue();
        assertThat(dec.at("/kv_transfer_params/remote_engine_id").asText()).isEqualTo("engine-P");
        assertThat(p.last().headers().get("x-request-id")).isEqualTo(d.last().headers().get("x-request-id"))
                .isEqualTo(r.headers().firstValue("X-Request-Id").orElseThrow());
    }

    @Test
    void streamIsRelayedChunkByChunkNotBuffered() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        d.tokens = 3;
        d.hold(); // the decoder sends its first event, then waits for the test
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"stream\":true}")).build();
        HttpResponse<java.io.InputStream> r = HTTP.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            // Only the first token exists yet: a proxy that buffered would send nothing before its idle timeout, then an error.
            String first = in.readLine();
            assertThat(first).startsWith("data: ").contains("D-tok0");
            d.release();
            String rest = in.lines().reduce("", (a, b) -> a + b + "\n");
            assertThat(rest).contains("D-tok2").contains("[DONE]").doesNotContain("error");
        }
    }

    /**
     * Relayed SSE events are small writes: with Nagle on, each waits for the ACK of the one before,
     * which a keep-alive client delays by 40 ms. Time from the first byte to the end of a 4-event
     * stream, on one client connection.
     */
    @Test
    void relayedEventsDoNotWaitForDelayedAcks() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        List<Double> ms = KeepAliveStreams.millisFirstByteToEnd(proxy.port(), java.util.Collections.nCopies(12, "{\"prompt\":\"x\",\"stream\":true}"));
        assertThat(KeepAliveStreams.median(ms)).as("median ms from first byte to end of stream, all: %s", ms).isLessThan(30.0);
    }

    @Test
    void prefillGoesToFewestPendingPromptTokensAndDecodeToFewestActiveRequests() throws Exception {
        FakeInstance p1 = fake("P1"), p2 = fake("P2"), d1 = fake("D1"), d2 = fake("D2");
        p1.hold();
        p2.hold();
        ProxyServer proxy = proxy(List.of(p1, p2), List.of(d1, d2));
        String big = "{\"prompt\":\"" + "x".repeat(4000) + "\"}";
        CompletableFuture<HttpResponse<String>> a = CompletableFuture.supplyAsync(() -> send(proxy, big), PARALLEL);
        until("the big prompt reaching a prefiller", () -> p1.posts().size() + p2.posts().size() == 1);
        FakeInstance busy = p1.posts().isEmpty() ? p2 : p1, idle = busy == p1 ? p2 : p1;
        idle.release(); // busy still holds the big prompt
        HttpResponse<String> b = post(proxy, "/v1/completions", "{\"prompt\":\"small\"}");
        assertThat(b.statusCode()).isEqualTo(200);
        assertThat(idle.posts()).hasSize(1);
        assertThat(idle.last().body().get("prompt").asText()).isEqualTo("small");
        busy.release();
        assertThat(a.join().statusCode()).isEqualTo(200);

        // Decode: a stream held open on one decoder sends the next request to the other.
        for (FakeInstance d : List.of(d1, d2)) {
            d.tokens = 3;
            d.hold();
        }
        int d1Before = d1.posts().size(), d2Before = d2.posts().size();
        CompletableFuture<HttpResponse<String>> s = CompletableFuture.supplyAsync(() -> send(proxy, "{\"prompt\":\"a\",\"stream\":true}"), PARALLEL);
        until("a stream reaching a decoder", () -> d1.posts().size() + d2.posts().size() == d1Before + d2Before + 1);
        FakeInstance streaming = d1.posts().size() > d1Before ? d1 : d2, free = streaming == d1 ? d2 : d1;
        int freeBefore = free == d1 ? d1Before : d2Before;
        free.release(); // the streaming one keeps its stream open
        HttpResponse<String> c = post(proxy, "/v1/completions", "{\"prompt\":\"b\"}");
        assertThat(c.statusCode()).isEqualTo(200);
        assertThat(free.posts()).hasSize(freeBefore + 1);
        assertThat(json(c.body()).at("/choices/0/text").asText()).startsWith(free.name + "-tok0");
        streaming.release();
        assertThat(s.join().body()).contains(streaming.name + "-tok2").contains("[DONE]");
    }

    @Test
    void aLargePromptPassesAndCountsAsPendingTokens() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        p.hold();
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        String prompt = "y".repeat(4_000_000);
        CompletableFuture<HttpResponse<String>> r = CompletableFuture.supplyAsync(
                () -> send(proxy, "{\"prompt\":\"" + prompt + "\"}"), PARALLEL);
        until("the prompt reaching the prefiller", () -> !p.posts().isEmpty());
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/0/pending_prompt_tokens").asLong()).isEqualTo(1_000_000);
        p.release();
        assertThat(r.join().statusCode()).isEqualTo(200);
        assertThat(d.last().body().get("prompt").asText()).hasSize(4_000_000);
    }

    @Test
    void concurrentRequestsAllCompleteAndLeaveNoLoadBehind() throws Exception {
        FakeInstance p1 = fake("P1"), p2 = fake("P2"), d1 = fake("D1"), d2 = fake("D2");
        for (FakeInstance d : List.of(d1, d2)) d.tokenDelayMs = 20;
        ProxyServer proxy = proxy(List.of(p1, p2), List.of(d1, d2));
        List<CompletableFuture<HttpResponse<String>>> all = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) {
            String body = i % 2 == 0 ? "{\"prompt\":\"p" + i + "\",\"stream\":true}" : "{\"prompt\":[1,2,3," + i + "]}";
            all.add(CompletableFuture.supplyAsync(() -> send(proxy, body), PARALLEL));
        }
        for (CompletableFuture<HttpResponse<String>> f : all) {
            HttpResponse<String> r = f.join();
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).contains("-tok3");
        }
        assertThat(d1.posts()).isNotEmpty();
        assertThat(d2.posts()).isNotEmpty();
        assertThat(p1.posts().size() + p2.posts().size()).isEqualTo(16);
        JsonNode h = json(get(proxy, "/healthcheck").body());
        for (String role : List.of("prefill", "decode"))
            for (JsonNode i : h.get(role)) {
                assertThat(i.get("active_requests").asInt()).isZero();
                assertThat(i.get("pending_prompt_tokens").asLong()).isZero();
            }
        assertThat(h.get("request_num").asInt()).isZero();
    }

    private static HttpResponse<String> send(ProxyServer proxy, String body) {
        try {
            return post(proxy, "/v1/completions", body);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
}
