package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/** The bad-input matrix, API keys, body limits, client disconnects and draining, over real HTTP. */
class ErrorsAndLifecycleTest {
    static ScriptedEngine engine;
    static OpenAiServer server;
    static Http http;

    @BeforeAll
    static void start() {
        engine = new ScriptedEngine(64, 1);
        var o = OpenAiServer.Options.loopback("tiny");
        server = new OpenAiServer(engine, engine.codec(), new OpenAiServer.Options(o.host(), 0, "tiny", null, 2048, "dev")).start();
        http = new Http(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
        engine.close();
    }

    /** Checks status and vLLM's error shape, returns the error object. */
    static JsonNode error(HttpResponse<String> r, int status) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
        JsonNode e = Http.json(r).get("error");
        assertThat(e).as(r.body()).isNotNull();
        assertThat(e.get("message").asText()).isNotBlank();
        assertThat(e.get("type").asText()).isNotBlank();
        assertThat(e.has("param")).isTrue();
        assertThat(e.get("code").asInt()).isEqualTo(status);
        return e;
    }

    @Test
    void badInputMatrix() throws Exception {
        JsonNode e = error(http.post("/v1/completions", "{not json"), 400);
        assertThat(e.get("type").asText()).isEqualTo("BadRequestError");
        assertThat(e.get("message").asText()).contains("not valid JSON");
        error(http.post("/v1/completions", "[1,2]"), 400);

        e = error(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":\"ten\"}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("max_tokens");
        assertThat(e.get("message").asText()).isEqualTo("'max_tokens' must be an integer");

        e = error(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}"), 400);
        assertThat(e.get("message").asText()).isEqualTo("max_tokens must be at least 1, got 0.");

        // 4 prompt tokens (BOS + 3) + 61 > max-model-len 64: the message gives both numbers.
        e = error(http.post("/v1/completions", "{\"prompt\":\"abc\",\"max_tokens\":61}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("max_tokens");
        assertThat(e.get("message").asText()).contains("maximum context length is 64 tokens").contains("4 input tokens").contains("(61 > 64 - 4)");
        e = error(http.post("/v1/completions", "{\"prompt\":\"" + "x".repeat(70) + "\"}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("prompt");
        assertThat(e.get("message").asText()).contains("your request has 71 input tokens");
        // A chat request's prompt is its messages.
        e = error(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(70) + "\"}]}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("messages");

        e = error(http.post("/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"a\"}"), 404);
        assertThat(e.get("type").asText()).isEqualTo("NotFoundError");
        assertThat(e.get("message").asText()).contains("gpt-4").contains("`tiny`");

        e = error(http.post("/v1/completions", "{\"prompt\":[1,999999]}"), 400);
        assertThat(e.get("message").asText()).contains("999999");
        error(http.post("/v1/completions", "{\"prompt\":[]}"), 400);
        error(http.post("/v1/completions", "{\"max_tokens\":3}"), 400);
        e = error(http.post("/v1/completions", "{\"prompt\":\"a\",\"temperature\":-1}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("temperature");
        assertThat(e.get("message").asText()).isEqualTo("temperature must be non-negative, got -1.0.");
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"top_p\":0}"), 400);
        e = error(http.post("/v1/completions", "{\"prompt\":\"a\",\"stop_token_ids\":[300]}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("stop_token_ids");
        assertThat(e.get("message").asText()).contains("300");
        e = error(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"logprobs\":true,\"top_logprobs\":21}"), 400);
        assertThat(e.get("param").asText()).isEqualTo("logprobs");
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"n\":0}"), 400);
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"logprobs\":21}"), 400);
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"stream_options\":{\"include_usage\":true}}"), 400);
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"stop\":5}"), 400);
        error(http.post("/v1/chat/completions", "{\"messages\":[]}"), 400);
        error(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}"), 400);
        e = error(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}"), 400);
        assertThat(e.get("message").asText()).contains("image_url");
        error(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"top_logprobs\":2}"), 400);
        error(http.post("/detokenize", "{\"tokens\":[-1]}"), 400);

        // The server keeps serving after all of that.
        assertThat(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":2}").statusCode()).isEqualTo(200);
    }

    @Test
    void bodyOverTheLimitIs413() throws Exception {
        JsonNode e = error(http.post("/v1/completions", "{\"prompt\":\"" + "x".repeat(4000) + "\"}"), 413);
        assertThat(e.get("message").asText()).contains("2048");
    }

    @Test
    void apiKeyGuardsV1Only() throws Exception {
        ScriptedEngine eng = new ScriptedEngine(64, 1);
        try (OpenAiServer s = new OpenAiServer(eng, eng.codec(), new OpenAiServer.Options("127.0.0.1", 0, "tiny", "s3cret", 1 << 20, "dev")).start()) {
            Http h = new Http(s.port());
            String body = "{\"prompt\":\"a\",\"max_tokens\":1}";
            assertThat(error(h.post("/v1/completions", body), 401).get("type").asText()).isEqualTo("AuthenticationError");
            error(h.post("/v1/completions", body, "Authorization", "Bearer wrong"), 401);
            error(h.get("/v1/models"), 401);
            assertThat(h.post("/v1/completions", body, "Authorization", "Bearer s3cret").statusCode()).isEqualTo(200);
            assertThat(h.get("/health").statusCode()).isEqualTo(200);
            assertThat(h.get("/metrics").statusCode()).isEqualTo(200);
        } finally {
            eng.close();
        }
    }

    @Test
    void clientThatLeavesMidStreamAbortsAndFreesItsBlocks() throws Exception {
        ScriptedEngine slow = new ScriptedEngine(4096, 20);
        try (OpenAiServer s = new OpenAiServer(slow, slow.codec(), OpenAiServer.Options.loopback("tiny")).start()) {
            Http h = new Http(s.port());
            HttpResponse<InputStream> r = h.postStream("/v1/completions", "{\"prompt\":\"hello\",\"max_tokens\":2000,\"stream\":true}");
            BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
            assertThat(reader.readLine()).startsWith("data: {");
            assertThat(slow.blocksUsed()).isPositive();
            r.body().close(); // the client goes away
            // The server aborts the engine request, then counts it: wait for the count, the last of the two.
            until("the abort to be counted", () -> s.metrics().scrape()
                    .contains("vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"tiny\"} 1.0"));
            assertThat(slow.aborted).hasSize(1);
            assertThat(slow.blocksUsed()).isZero();
            assertThat(slow.stats().kvCacheUsage()).isZero();
        } finally {
            slow.close();
        }
    }

    @Test
    void drainFinishesRunningStreamsAndRefusesNewRequests() throws Exception {
        ScriptedEngine slow = new ScriptedEngine(4096, 10);
        try (OpenAiServer s = new OpenAiServer(slow, slow.codec(), OpenAiServer.Options.loopback("tiny")).start()) {
            Http h = new Http(s.port());
            CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> {
                try {
                    return h.post("/v1/completions", "{\"prompt\":\"hello\",\"max_tokens\":30,\"stream\":true}");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            until("the stream to run", () -> slow.blocksUsed() > 0);
            CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> s.drain(Duration.ofSeconds(30)));
            until("the server to drain", s::isDraining);
            JsonNode e = error(h.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1}"), 503);
            assertThat(e.get("type").asText()).isEqualTo("ServiceUnavailableError");
            assertThat(h.get("/health").statusCode()).isEqualTo(503);
            HttpResponse<String> done = running.get(30, TimeUnit.SECONDS);
            assertThat(done.statusCode()).isEqualTo(200);
            var events = Http.events(done.body());
            assertThat(events.getLast()).isEqualTo("[DONE]");
            assertThat(events).hasSize(31);
            drained.get(30, TimeUnit.SECONDS);
            assertThat(slow.aborted).isEmpty();
        } finally {
            slow.close();
        }
    }
}
