package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
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

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static dev.pdserve.Await.until;
import static dev.pdserve.server.RealEngineServerTest.idsJson;
import static dev.pdserve.server.RealEngineServerTest.ints;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * vLLM's and OpenAI's request contracts over real HTTP, on the real engine and the golden
 * DeepSeek-V3 tiny model: max_tokens defaults, echo with logprobs and prompt_logprobs (checked
 * against transformers' logits in reference.json), logit_bias, suffix, GET /v1/models/{id},
 * user, and seeded sampling that does not depend on the batch.
 */
class RequestContractsTest {
    static CausalLM model;
    static Tokenizer tokenizer;
    static Engine engine;
    static OpenAiServer server;
    static Http http;
    static JsonNode reference;

    @BeforeAll
    static void start() throws Exception {
        Path dir = TestModels.deepseek();
        model = ModelLoader.load(dir, new LoadOptions(2, null));
        tokenizer = Tokenizer.load(dir);
        // Small prefill chunks: the 616-token prompt's logprobs come from several steps.
        engine = new Engine(model, tokenizer, EngineConfig.defaults(1024).withKvCacheBytes(64L << 20).withMaxNumBatchedTokens(128));
        server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("deepseek-v3-tiny")).start();
        http = new Http(server.port());
        reference = Http.JSON.readTree(Files.readString(dir.resolve("reference.json")));
    }

    @AfterEach
    void kvCacheEmpty() throws Exception {
        until("KV blocks freed", () -> engine.stats().numBlocksUsed() == 0 && engine.stats().numRunning() == 0);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
        if (model != null) model.close();
        if (tokenizer != null) tokenizer.close();
    }

    static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Http.json(r);
    }

    static JsonNode error(HttpResponse<String> r, int status, String param) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode e = Http.json(r).get("error");
        assertThat(e.get("param").asText()).isEqualTo(param);
        return e;
    }

    @Test
    void completionsWithoutMaxTokensGenerateSixteen() throws Exception {
        JsonNode r = ok(http.post("/v1/completions", "{\"prompt\":\"def f(x):\",\"temperature\":0,\"ignore_eos\":true}"));
        assertThat(r.at("/usage/completion_tokens").asInt()).isEqualTo(16);
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        // Near the end of the context the default shrinks to what is left, as vLLM's does.
        int[] long1018 = new int[1018];
        java.util.Arrays.fill(long1018, 5);
        JsonNode near = ok(http.post("/v1/completions", "{\"prompt\":" + idsJson(long1018) + ",\"temperature\":0,\"ignore_eos\":true}"));
        assertThat(near.at("/usage/completion_tokens").asInt()).isEqualTo(6);
    }

    @Test
    void chatWithoutMaxTokensRunsToTheEndOfTheContext() throws Exception {
        Path dir = TestModels.deepseek();
        try (CausalLM m = ModelLoader.load(dir, new LoadOptions(1, null));
             Engine small = new Engine(m, tokenizer, EngineConfig.defaults(48).withKvCacheBytes(8L << 20));
             OpenAiServer s = new OpenAiServer(small, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("deepseek-v3-tiny")).start()) {
            JsonNode r = ok(new Http(s.port()).post("/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0,\"ignore_eos\":true}"));
            int prompt = r.at("/usage/prompt_tokens").asInt();
            assertThat(r.at("/usage/completion_tokens").asInt()).isEqualTo(48 - prompt);
        }
    }

    /**
     * What lm-evaluation-harness's loglikelihood sends (token-id prompts, echo, logprobs=1,
     * max_tokens=1, temperature 0): every prompt token after the first gets the logprob the model
     * gives it, and its most likely alternative. Checked against transformers' top-5 logits at
     * every prompt position: the alternative is transformers' argmax (unless the top two are a near
     * tie) and logprob differences equal logit differences.
     */
    @Test
    void echoWithLogprobsScoresThePromptAsTransformers() throws Exception {
        for (JsonNode p : reference.get("prompts")) {
            int[] ids = ints(p.get("input_ids"));
            JsonNode r = ok(http.post("/v1/completions", "{\"prompt\":" + idsJson(ids)
                    + ",\"echo\":true,\"logprobs\":1,\"max_tokens\":1,\"temperature\":0,\"return_tokens_as_token_ids\":true}"));
            JsonNode c = r.at("/choices/0");
            JsonNode lp = c.get("logprobs");
            assertThat(lp.get("tokens").size()).isEqualTo(ids.length + 1);
            assertThat(lp.get("token_logprobs").get(0).isNull()).isTrue();
            assertThat(lp.get("top_logprobs").get(0).isNull()).isTrue();
            assertThat(c.get("text").asText()).startsWith(tokenizer.decode(ids, true));
            for (int i = 1; i < ids.length; i++) {
                assertThat(lp.get("tokens").get(i).asText()).isEqualTo("token_id:" + ids[i]);
                JsonNode top5Ids = p.get("top5_ids").get(i - 1), top5 = p.get("top5_logits").get(i - 1);
                JsonNode tops = lp.get("top_logprobs").get(i);
                double actual = lp.get("token_logprobs").get(i).asDouble();
                assertThat(actual).isLessThanOrEqualTo(0.0);
                // The best alternative and, where the prompt token is among transformers' top 5, its gap to it.
                String best = bestOther(tops, "token_id:" + ids[i], actual);
                if (top5.get(0).asDouble() - top5.get(1).asDouble() > 2e-3) assertThat(best).isEqualTo("token_id:" + top5Ids.get(0).asInt());
                for (int k = 0; k < 5; k++) {
                    if (top5Ids.get(k).asInt() == ids[i]) {
                        assertThat(actual - tops.get(best).asDouble()).as("position " + i)
                                .isCloseTo(top5.get(k).asDouble() - top5.get(0).asDouble(), within(2e-3));
                    }
                }
            }
            // The generated token's logprob, exactly: its logit minus the log-sum-exp of all 4096 logits.
            JsonNode last = p.get("last_logits");
            int gen = Integer.parseInt(lp.get("tokens").get(ids.length).asText().substring("token_id:".length()));
            assertThat(lp.get("token_logprobs").get(ids.length).asDouble()).isCloseTo(logprob(last, gen), within(2e-3));
        }
    }

    /** The best entry of a top_logprobs map; the prompt token itself counts only if it is the only one. */
    private static String bestOther(JsonNode tops, String self, double selfLp) {
        String best = null;
        double bv = Double.NEGATIVE_INFINITY;
        for (Iterator<Map.Entry<String, JsonNode>> it = tops.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getValue().asDouble() > bv) { bv = e.getValue().asDouble(); best = e.getKey(); }
        }
        return tops.size() == 1 ? self : best;
    }

    private static double logprob(JsonNode logits, int id) {
        double max = Double.NEGATIVE_INFINITY;
        for (JsonNode l : logits) max = Math.max(max, l.asDouble());
        double sum = 0;
        for (JsonNode l : logits) sum += Math.exp(l.asDouble() - max);
        return logits.get(id).asDouble() - max - Math.log(sum);
    }

    /** vLLM's prompt_logprobs=5: per prompt token, transformers' top 5 with their ranks, and the prompt token. */
    @Test
    void promptLogprobsHoldTransformersTopFive() throws Exception {
        JsonNode p = reference.get("prompts").get(8); // 616 tokens: five prefill chunks of 128
        int[] ids = ints(p.get("input_ids"));
        JsonNode r = ok(http.post("/v1/completions", "{\"prompt\":" + idsJson(ids) + ",\"prompt_logprobs\":5,\"max_tokens\":1,\"temperature\":0}"));
        JsonNode pl = r.at("/choices/0/prompt_logprobs");
        assertThat(pl.size()).isEqualTo(ids.length);
        assertThat(pl.get(0).isNull()).isTrue();
        int checked = 0;
        for (int i = 1; i < ids.length; i++) {
            JsonNode m = pl.get(i), top5Ids = p.get("top5_ids").get(i - 1), top5 = p.get("top5_logits").get(i - 1);
            assertThat(m.has(Integer.toString(ids[i]))).as("position " + i).isTrue();
            JsonNode first = m.get(Integer.toString(top5Ids.get(0).asInt()));
            if (top5.get(0).asDouble() - top5.get(1).asDouble() > 2e-3) {
                assertThat(first).as("position " + i).isNotNull();
                assertThat(first.get("rank").asInt()).isEqualTo(1);
            }
            if (first == null) continue;
            for (int k = 1; k < 5; k++) {
                JsonNode e = m.get(Integer.toString(top5Ids.get(k).asInt()));
                if (e == null) continue; // a near tie with the 6th
                assertThat(e.get("logprob").asDouble() - first.get("logprob").asDouble()).as("position " + i + " alternative " + k)
                        .isCloseTo(top5.get(k).asDouble() - top5.get(0).asDouble(), within(2e-3));
                checked++;
            }
            JsonNode actual = m.get(Integer.toString(ids[i]));
            assertThat(actual.get("decoded_token").asText()).isEqualTo(tokenizer.decode(new int[] {ids[i]}, false));
            assertThat(actual.get("rank").asInt()).isGreaterThanOrEqualTo(1);
        }
        assertThat(checked).isGreaterThan(2000);
        // Asked again, the prompt's blocks are in the prefix cache: prompt logprobs are computed anyway, the same.
        JsonNode again = ok(http.post("/v1/completions", "{\"prompt\":" + idsJson(ids) + ",\"prompt_logprobs\":5,\"max_tokens\":1,\"temperature\":0}"));
        assertThat(again.at("/choices/0/prompt_logprobs")).isEqualTo(pl);
    }

    @Test
    void echoWithMaxTokensZeroAnswersThePromptAlone() throws Exception {
        JsonNode r = ok(http.post("/v1/completions", "{\"prompt\":\"how is it today\",\"echo\":true,\"logprobs\":0,\"max_tokens\":0}"));
        JsonNode c = r.at("/choices/0");
        assertThat(c.get("text").asText()).isEqualTo("how is it today");
        int n = tokenizer.encode("how is it today", true).length;
        assertThat(c.at("/logprobs/tokens").size()).isEqualTo(n);
        assertThat(r.at("/usage/completion_tokens").asInt()).isZero();
        // Echo alone (no logprobs): the prompt, then the completion; streamed the same way.
        JsonNode plain = ok(http.post("/v1/completions", "{\"prompt\":\"def f(x):\",\"echo\":true,\"max_tokens\":4,\"temperature\":0}"));
        JsonNode noEcho = ok(http.post("/v1/completions", "{\"prompt\":\"def f(x):\",\"max_tokens\":4,\"temperature\":0}"));
        assertThat(plain.at("/choices/0/text").asText()).isEqualTo("def f(x):" + noEcho.at("/choices/0/text").asText());
        StringBuilder streamed = new StringBuilder();
        for (String e : Http.events(http.post("/v1/completions", "{\"prompt\":\"def f(x):\",\"echo\":true,\"max_tokens\":4,\"temperature\":0,\"stream\":true}").body())) {
            if (e.equals("[DONE]")) break;
            streamed.append(Http.JSON.readTree(e).at("/choices/0/text").asText());
        }
        assertThat(streamed.toString()).isEqualTo(plain.at("/choices/0/text").asText());
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}"), 400, "max_tokens");
    }

    @Test
    void logitBiasSteersSamplingAndIsChecked() throws Exception {
        String base = "{\"prompt\":\"def f(x):\",\"max_tokens\":3,\"temperature\":0,\"ignore_eos\":true,\"logprobs\":0,\"return_tokens_as_token_ids\":true";
        JsonNode plain = ok(http.post("/v1/completions", base + "}"));
        String first = plain.at("/choices/0/logprobs/tokens/0").asText();
        JsonNode forced = ok(http.post("/v1/completions", base + ",\"logit_bias\":{\"77\":100}}"));
        for (JsonNode t : forced.at("/choices/0/logprobs/tokens")) assertThat(t.asText()).isEqualTo("token_id:77");
        String firstId = first.substring("token_id:".length());
        JsonNode banned = ok(http.post("/v1/completions", base + ",\"logit_bias\":{\"" + firstId + "\":-100}}"));
        assertThat(banned.at("/choices/0/logprobs/tokens/0").asText()).isNotEqualTo(first);
        // The logprobs stay the model's own (raw), as vLLM reports them.
        assertThat(forced.at("/choices/0/logprobs/token_logprobs/0").asDouble()).isLessThan(0.0);
        error(http.post("/v1/completions", base + ",\"logit_bias\":{\"4096\":1}}"), 400, "logit_bias");
        error(http.post("/v1/completions", base + ",\"logit_bias\":{\"x\":1}}"), 400, "logit_bias");
        JsonNode chat = ok(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2,"
                + "\"temperature\":0,\"ignore_eos\":true,\"logit_bias\":{\"77\":100}}"));
        assertThat(chat.at("/choices/0/message/content").asText()).isEqualTo(tokenizer.decode(new int[] {77, 77}, true));
    }

    @Test
    void suffixIsRefusedOnlyWhenItAsksForAnInsertion() throws Exception {
        ok(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1,\"suffix\":\"\"}"));
        ok(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1,\"suffix\":null}"));
        JsonNode e = error(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1,\"suffix\":\"b\"}"), 400, "suffix");
        assertThat(e.get("message").asText()).contains("fill-in-the-middle");
    }

    @Test
    void modelsCanBeRetrievedById() throws Exception {
        JsonNode m = ok(http.get("/v1/models/deepseek-v3-tiny"));
        assertThat(m.get("id").asText()).isEqualTo("deepseek-v3-tiny");
        assertThat(m.get("object").asText()).isEqualTo("model");
        assertThat(m).isEqualTo(ok(http.get("/v1/models")).at("/data/0"));
        for (String unknown : List.of("/v1/models/gpt-4", "/v1/models/deepseek-ai/DeepSeek-V3")) {
            HttpResponse<String> r = http.get(unknown);
            assertThat(r.statusCode()).isEqualTo(404);
            assertThat(r.headers().firstValue("Content-Type").orElse("")).contains("application/json");
            assertThat(Http.json(r).at("/error/message").asText()).contains("does not exist");
        }
    }

    @Test
    void userIsAccepted() throws Exception {
        ok(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1,\"user\":\"user-1234\"}"));
        ok(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1,\"user\":\"u\"}"));
        error(http.post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1,\"user\":5}"), 400, "user");
    }

    /** A seeded request samples the same alone and among other requests; its n samples use seed, seed + 1, ... as vLLM's. */
    @Test
    void seedGivesTheSameSamplesWhateverTheBatch() throws Exception {
        String seeded = "{\"prompt\":\"def f(x):\",\"max_tokens\":12,\"temperature\":1.0,\"ignore_eos\":true,\"seed\":%d%s}";
        String alone = text(ok(http.post("/v1/completions", seeded.formatted(7, ""))), 0);
        String seed8 = text(ok(http.post("/v1/completions", seeded.formatted(8, ""))), 0);
        List<CompletableFuture<HttpResponse<String>>> crowd = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            crowd.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return http.post("/v1/completions", "{\"prompt\":\"class A:\",\"max_tokens\":20,\"temperature\":1.0,\"ignore_eos\":true}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        JsonNode inCrowd = ok(http.post("/v1/completions", seeded.formatted(7, ",\"n\":2")));
        for (var f : crowd) assertThat(f.get().statusCode()).isEqualTo(200);
        assertThat(text(inCrowd, 0)).isEqualTo(alone);
        assertThat(text(inCrowd, 1)).isEqualTo(seed8);
        Set<String> unseeded = new HashSet<>();
        for (int i = 0; i < 3; i++) unseeded.add(text(ok(http.post("/v1/completions", "{\"prompt\":\"def f(x):\",\"max_tokens\":12,\"temperature\":1.0,\"ignore_eos\":true}")), 0));
        assertThat(unseeded).hasSizeGreaterThan(1);
    }

    private static String text(JsonNode r, int choice) {
        for (JsonNode c : r.get("choices")) if (c.get("index").asInt() == choice) return c.get("text").asText();
        throw new AssertionError("no choice " + choice + " in " + r);
    }
}
