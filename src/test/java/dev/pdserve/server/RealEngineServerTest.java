package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.pdserve.KeepAliveStreams;
import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The server over the real engine and the golden DeepSeek-V3 tiny model: greedy completions
 * reproduce transformers' tokens, 32 concurrent requests equal each alone, the OpenAI SDK
 * completes and streams, bad input gets vLLM's errors, and the KV cache is empty after each test
 * (the tests share one server, in any order).
 */
class RealEngineServerTest {
    static CausalLM model;
    static Tokenizer tokenizer;
    static Engine engine;
    static OpenAiServer server;
    static Http http;
    static List<Reference> refs;

    /** One prompt of reference.json: its ids, transformers' greedy continuation, and where it is a near tie. */
    record Reference(int[] inputIds, int[] greedy, double[] margins, int[][] top2) {}

    @BeforeAll
    static void start() throws Exception {
        Path dir = TestModels.deepseek();
        model = ModelLoader.load(dir, new LoadOptions(2, null));
        tokenizer = Tokenizer.load(dir);
        engine = new Engine(model, tokenizer, EngineConfig.defaults(1024).withKvCacheBytes(64L << 20).withMaxNumSeqs(64));
        server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("deepseek-v3-tiny")).start();
        http = new Http(server.port());
        refs = references(dir);
    }

    static List<Reference> references(Path dir) throws Exception {
        List<Reference> refs = new ArrayList<>();
        for (JsonNode p : Http.JSON.readTree(Files.readString(dir.resolve("reference.json"))).get("prompts")) {
            int n = p.get("greedy_ids").size();
            int[][] top2 = new int[n][];
            for (int i = 0; i < n; i++) {
                JsonNode ids = p.get("greedy_step_top2").get(i).get(0);
                top2[i] = new int[] {ids.get(0).asInt(), ids.get(1).asInt()};
            }
            refs.add(new Reference(ints(p.get("input_ids")), ints(p.get("greedy_ids")), doubles(p.get("greedy_margins")), top2));
        }
        return refs;
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
        if (model != null) model.close();
        if (tokenizer != null) tokenizer.close();
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asDouble();
        return out;
    }

    static String idsJson(int[] ids) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < ids.length; i++) sb.append(i > 0 ? "," : "").append(ids[i]);
        return sb.append(']').toString();
    }

    static String greedyBody(int[] prompt, int maxTokens) {
        return "{\"prompt\":" + idsJson(prompt) + ",\"max_tokens\":" + maxTokens
                + ",\"temperature\":0,\"ignore_eos\":true,\"logprobs\":0,\"return_tokens_as_token_ids\":true}";
    }

    /** The generated ids, read from the logprobs tokens ({@code token_id:N}). */
    static int[] generatedIds(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode tokens = Http.json(r).get("choices").get(0).get("logprobs").get("tokens");
        int[] out = new int[tokens.size()];
        for (int i = 0; i < out.length; i++) out[i] = Integer.parseInt(tokens.get(i).asText().substring("token_id:".length()));
        return out;
    }

    /** Equal to transformers' greedy ids, except that a near tie (margin < 2e-3) may go either way and end the comparison. */
    static void assertGreedy(int[] got, Reference ref, int[] expected, String label) {
        for (int i = 0; i < Math.min(got.length, expected.length); i++) {
            if (got[i] == expected[i]) continue;
            if (ref.margins[i] < 2e-3 && (got[i] == ref.top2[i][0] || got[i] == ref.top2[i][1])) return;
            fail(label + ": token " + i + " is " + got[i] + ", expected " + expected[i] + " (margin " + ref.margins[i] + ")");
        }
        assertThat(got.length).as(label).isEqualTo(expected.length);
    }

    @Test
    void greedyCompletionsReproduceTransformers() throws Exception {
        for (int p = 0; p < refs.size(); p++) {
            Reference ref = refs.get(p);
            int[] got = generatedIds(http.post("/v1/completions", greedyBody(ref.inputIds, ref.greedy.length)));
            assertGreedy(got, ref, ref.greedy, "prompt " + p);
        }
    }

    @Test
    void llamaGreedyCompletionsReproduceTransformersToo() throws Exception {
        Path dir = TestModels.llama();
        try (CausalLM llama = ModelLoader.load(dir, new LoadOptions(2, null)); Tokenizer tok = Tokenizer.load(dir)) {
            Engine e = new Engine(llama, tok, EngineConfig.defaults(1024).withKvCacheBytes(64L << 20).withMaxNumSeqs(64));
            try (OpenAiServer s = new OpenAiServer(e, TextCodec.of(tok), OpenAiServer.Options.loopback("llama-tiny")).start()) {
                Http h = new Http(s.port());
                List<Reference> llamaRefs = references(dir);
                for (int p = 0; p < llamaRefs.size(); p++) {
                    Reference ref = llamaRefs.get(p);
                    assertGreedy(generatedIds(h.post("/v1/completions", greedyBody(ref.inputIds, ref.greedy.length))), ref, ref.greedy, "llama prompt " + p);
                }
            } finally {
                e.close();
            }
        }
    }

    @Test
    void thirtyTwoConcurrentRequestsEqualEachAlone() throws Exception {
        int maxTokens = 12;
        List<int[]> alone = new ArrayList<>();
        for (Reference ref : refs) alone.add(generatedIds(http.post("/v1/completions", greedyBody(ref.inputIds, maxTokens))));
        List<CompletableFuture<int[]>> futures = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            Reference ref = refs.get(i % refs.size());
            futures.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return generatedIds(http.post("/v1/completions", greedyBody(ref.inputIds, maxTokens)));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        for (int i = 0; i < 32; i++) {
            int p = i % refs.size();
            assertGreedy(futures.get(i).get(120, TimeUnit.SECONDS), refs.get(p), alone.get(p), "concurrent request " + i);
        }
    }

    @Test
    void streamingGivesTheSameTextAndTheOpenAiSdkWorks() throws Exception {
        String prompt = "def fibonacci(n):";
        JsonNode whole = Http.json(http.post("/v1/completions",
                "{\"prompt\":\"def fibonacci(n):\",\"max_tokens\":24,\"temperature\":0}"));
        String text = whole.get("choices").get(0).get("text").asText();
        assertThat(text).isNotEmpty();
        List<String> events = Http.events(http.post("/v1/completions",
                "{\"prompt\":\"def fibonacci(n):\",\"max_tokens\":24,\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}").body());
        StringBuilder streamed = new StringBuilder();
        for (String e : events.subList(0, events.size() - 2)) streamed.append(Http.JSON.readTree(e).get("choices").get(0).get("text").asText());
        assertThat(streamed.toString()).isEqualTo(text);
        assertThat(Http.JSON.readTree(events.get(events.size() - 2)).get("usage").get("completion_tokens").asInt())
                .isEqualTo(whole.get("usage").get("completion_tokens").asInt());

        // A stop string cuts the text before it and is reported as vLLM's stop_reason.
        assertThat(text).contains("\n");
        JsonNode stopped = Http.json(http.post("/v1/completions",
                "{\"prompt\":\"def fibonacci(n):\",\"max_tokens\":24,\"temperature\":0,\"stop\":[\"\\n\"]}")).get("choices").get(0);
        assertThat(stopped.get("text").asText()).isEqualTo(text.substring(0, text.indexOf('\n')));
        assertThat(stopped.get("finish_reason").asText()).isEqualTo("stop");
        assertThat(stopped.get("stop_reason").asText()).isEqualTo("\n");

        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1")
                .apiKey("unused").maxRetries(0).build();
        try {
            CompletionCreateParams params = CompletionCreateParams.builder().model("deepseek-v3-tiny").prompt(prompt)
                    .maxTokens(24).temperature(0.0).build();
            assertThat(client.completions().create(params).choices().getFirst().text()).isEqualTo(text);
            StringBuilder sdkStream = new StringBuilder();
            try (StreamResponse<Completion> s = client.completions().createStreaming(params)) {
                s.stream().forEach(c -> c.choices().forEach(ch -> sdkStream.append(ch.text())));
            }
            assertThat(sdkStream.toString()).isEqualTo(text);
        } finally {
            client.close();
        }
    }

    @Test
    void chatUsesTheModelsTemplate() throws Exception {
        String messages = "[{\"role\":\"user\",\"content\":\"import os\"}]";
        JsonNode chat = Http.json(http.post("/v1/chat/completions", "{\"messages\":" + messages + ",\"max_tokens\":8,\"temperature\":0}"));
        JsonNode tok = Http.json(http.post("/tokenize", "{\"messages\":" + messages + "}"));
        assertThat(chat.get("usage").get("prompt_tokens").asInt()).isEqualTo(tok.get("count").asInt());
        assertThat(chat.get("usage").get("completion_tokens").asInt()).isBetween(1, 8);
        assertThat(tok.get("tokens").get(0).asInt()).isEqualTo(tokenizer.bosTokenId());
    }

    @Test
    void badInputGetsVllmErrors() throws Exception {
        int[] long1000 = new int[1000];
        java.util.Arrays.fill(long1000, 263);
        JsonNode e = ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":" + idsJson(long1000) + ",\"max_tokens\":100}"), 400);
        assertThat(e.get("message").asText()).contains("1024").contains("1000 input tokens").contains("(100 > 1024 - 1000)");
        ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":0}"), 400);
        ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"model\":\"llama\",\"prompt\":\"x\"}"), 404);
        ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":[1,4096]}"), 400);
        assertThat(http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1}").statusCode()).isEqualTo(200);
    }

    @Test
    void aClientThatLeavesFreesItsBlocks() throws Exception {
        HttpResponse<InputStream> r = http.postStream("/v1/completions", "{\"prompt\":\"import os\",\"max_tokens\":1000,\"ignore_eos\":true,\"stream\":true}");
        BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        assertThat(reader.readLine()).startsWith("data: {");
        r.body().close();
        until("the abandoned request to end and free its blocks", () -> engine.stats().numRunning() == 0 && engine.stats().numBlocksUsed() == 0);
    }

    /**
     * SSE events are small writes. With Nagle on (the server's default), each waits for the ACK of
     * the one before, which a keep-alive client delays by 40 ms: a 4-token stream took ~45 ms where
     * it takes ~1. Time from the first byte to the end of the stream, on one connection.
     */
    @Test
    void streamedEventsDoNotWaitForDelayedAcks() throws Exception {
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            bodies.add("{\"model\":\"deepseek-v3-tiny\",\"prompt\":[" + (100 + i) + "],\"max_tokens\":4,\"ignore_eos\":true,\"stream\":true}");
        }
        List<Double> ms = KeepAliveStreams.millisFirstByteToEnd(server.port(), bodies);
        assertThat(KeepAliveStreams.median(ms)).as("median ms from first byte to end of stream, all: %s", ms).isLessThan(30.0);
    }

    @AfterEach
    void kvCacheIsEmptyAfterEachTest() throws Exception {
        until("no request running and no KV block in use", () -> engine.stats().numRunning() == 0 && engine.stats().numBlocksUsed() == 0);
        String metrics = http.get("/metrics").body();
        assertThat(metrics).contains("vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"deepseek-v3-tiny\"} 0.0\n");
        assertThat(metrics).contains("vllm:num_requests_running{engine=\"0\",model_name=\"deepseek-v3-tiny\"} 0.0\n");
    }
}
