package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Completions and chat over real HTTP against the scripted engine: shapes, SSE framing, n, logprobs, ids. */
class CompletionsProtocolTest {
    static ScriptedEngine engine;
    static OpenAiServer server;
    static Http http;
    static final CharCodec CODEC = new CharCodec();

    @BeforeAll
    static void start() {
        engine = new ScriptedEngine(256, 1);
        server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny")).start();
        http = new Http(server.port());
    }

    @AfterAll
    static void stop() {
        server.close();
        engine.close();
    }

    static String expected(String prompt, int tokens) {
        return ScriptedEngine.expectedText(CODEC.encode(prompt, true), tokens);
    }

    @Test
    void completionReturnsTextUsageAndIds() throws Exception {
        HttpResponse<String> r = http.post("/v1/completions", """
                {"model":"tiny","prompt":"hello","max_tokens":5,"temperature":0}""", "X-Request-Id", "req-42");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("X-Request-Id")).contains("req-42");
        JsonNode j = Http.json(r);
        assertThat(j.get("id").asText()).isEqualTo("cmpl-req-42");
        assertThat(j.get("object").asText()).isEqualTo("text_completion");
        assertThat(j.get("model").asText()).isEqualTo("tiny");
        JsonNode c = j.get("choices").get(0);
        assertThat(c.get("text").asText()).isEqualTo(expected("hello", 5));
        assertThat(c.get("finish_reason").asText()).isEqualTo("length");
        assertThat(c.get("logprobs").isNull()).isTrue();
        JsonNode u = j.get("usage");
        assertThat(u.get("prompt_tokens").asInt()).isEqualTo(6); // BOS + 5 characters
        assertThat(u.get("completion_tokens").asInt()).isEqualTo(5);
        assertThat(u.get("total_tokens").asInt()).isEqualTo(11);
        assertThat(u.get("prompt_tokens_details").get("cached_tokens").asInt()).isZero();
        assertThat(engine.submitted).anySatisfy(g -> assertThat(g.requestId()).startsWith("cmpl-req-42-"));
    }

    @Test
    void everyPromptShapeAndNGiveOneChoicePerPromptAndSample() throws Exception {
        JsonNode j = Http.json(http.post("/v1/completions", """
                {"prompt":["ab",[0,120,121]],"max_tokens":3,"n":2}"""));
        JsonNode choices = j.get("choices");
        assertThat(choices).hasSize(4);
        for (int i = 0; i < 4; i++) assertThat(choices.get(i).get("index").asInt()).isEqualTo(i);
        assertThat(choices.get(0).get("text").asText()).isEqualTo(expected("ab", 3));
        assertThat(choices.get(1).get("text").asText()).isEqualTo(expected("ab", 3));
        assertThat(choices.get(2).get("text").asText()).isEqualTo(ScriptedEngine.expectedText(new int[] {0, 120, 121}, 3));
        // Prompt tokens count once per prompt, completion tokens once per choice.
        assertThat(j.get("usage").get("prompt_tokens").asInt()).isEqualTo(3 + 3);
        assertThat(j.get("usage").get("completion_tokens").asInt()).isEqualTo(12);
        JsonNode single = Http.json(http.post("/v1/completions", """
                {"prompt":[0,120,121],"max_tokens":2}"""));
        assertThat(single.get("choices")).hasSize(1);
    }

    @Test
    void streamSendsFramedChunksUsageAndDone() throws Exception {
        HttpResponse<String> r = http.post("/v1/completions", """
                {"prompt":"hello","max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}""");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        List<String> events = Http.events(r.body());
        assertThat(events.getLast()).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        List<JsonNode> chunks = new ArrayList<>();
        for (String e : events.subList(0, events.size() - 1)) chunks.add(Http.JSON.readTree(e));
        JsonNode usageChunk = chunks.removeLast();
        assertThat(usageChunk.get("choices")).isEmpty();
        assertThat(usageChunk.get("usage").get("completion_tokens").asInt()).isEqualTo(6);
        for (JsonNode c : chunks) {
            assertThat(c.get("object").asText()).isEqualTo("text_completion");
            text.append(c.get("choices").get(0).get("text").asText());
        }
        assertThat(text.toString()).isEqualTo(expected("hello", 6));
        assertThat(chunks.getLast().get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
        assertThat(chunks.getFirst().get("choices").get(0).get("finish_reason").isNull()).isTrue();
    }

    @Test
    void chatAnswersWithTheTemplateAppliedAndStreamsRoleFirst() throws Exception {
        String body = """
                {"model":"tiny","messages":[{"role":"system","content":"be brief"},
                 {"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"there"}]}],
                 "max_completion_tokens":4%s}""";
        int[] prompt = CODEC.encode("[system]be brief\n[user]hi\nthere\n[assistant]", false);
        JsonNode j = Http.json(http.post("/v1/chat/completions", body.formatted("")));
        assertThat(j.get("object").asText()).isEqualTo("chat.completion");
        assertThat(j.get("id").asText()).startsWith("chatcmpl-");
        JsonNode msg = j.get("choices").get(0).get("message");
        assertThat(msg.get("role").asText()).isEqualTo("assistant");
        assertThat(msg.get("content").asText()).isEqualTo(ScriptedEngine.expectedText(prompt, 4));
        assertThat(j.get("usage").get("prompt_tokens").asInt()).isEqualTo(prompt.length);

        List<String> events = Http.events(http.post("/v1/chat/completions", body.formatted(",\"stream\":true")).body());
        JsonNode first = Http.JSON.readTree(events.getFirst());
        assertThat(first.get("object").asText()).isEqualTo("chat.completion.chunk");
        assertThat(first.get("choices").get(0).get("delta").get("role").asText()).isEqualTo("assistant");
        StringBuilder text = new StringBuilder();
        for (String e : events.subList(1, events.size() - 1)) {
            JsonNode d = Http.JSON.readTree(e).get("choices").get(0).get("delta");
            if (d.has("content")) text.append(d.get("content").asText());
        }
        assertThat(text.toString()).isEqualTo(ScriptedEngine.expectedText(prompt, 4));
        assertThat(events.getLast()).isEqualTo("[DONE]");
    }

    @Test
    void streamWithNTagsChunksByChoiceAndCanCarryUsageOnEveryChunk() throws Exception {
        HttpResponse<String> r = http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"x"}],"max_tokens":3,"n":2,"stream":true,
                 "stream_options":{"include_usage":true,"continuous_usage_stats":true}}""");
        assertThat(r.headers().firstValue("X-Request-Id")).isPresent();
        List<String> events = Http.events(r.body());
        JsonNode first = Http.JSON.readTree(events.get(0)), second = Http.JSON.readTree(events.get(1));
        assertThat(first.get("choices").get(0).get("index").asInt()).isZero();
        assertThat(second.get("choices").get(0).get("index").asInt()).isEqualTo(1);
        assertThat(second.get("choices").get(0).get("delta").get("role").asText()).isEqualTo("assistant");
        StringBuilder[] texts = {new StringBuilder(), new StringBuilder()};
        for (String e : events.subList(2, events.size() - 2)) {
            JsonNode chunk = Http.JSON.readTree(e);
            assertThat(chunk.has("usage")).isTrue();
            JsonNode c = chunk.get("choices").get(0);
            if (c.get("delta").has("content")) texts[c.get("index").asInt()].append(c.get("delta").get("content").asText());
        }
        int[] prompt = CODEC.encode("[user]x\n[assistant]", false);
        assertThat(texts[0].toString()).isEqualTo(ScriptedEngine.expectedText(prompt, 3));
        assertThat(texts[1].toString()).isEqualTo(ScriptedEngine.expectedText(prompt, 3));
        assertThat(Http.JSON.readTree(events.get(events.size() - 2)).get("usage").get("completion_tokens").asInt()).isEqualTo(6);
    }

    @Test
    void completionLogprobsHaveTheLegacyShape() throws Exception {
        JsonNode lp = Http.json(http.post("/v1/completions", """
                {"prompt":"hello","max_tokens":3,"logprobs":2}""")).get("choices").get(0).get("logprobs");
        String text = expected("hello", 3);
        assertThat(lp.get("tokens")).hasSize(3);
        assertThat(lp.get("tokens").get(0).asText()).isEqualTo(text.substring(0, 1));
        assertThat(lp.get("token_logprobs").get(0).asDouble()).isEqualTo(-0.25);
        assertThat(lp.get("text_offset").toString()).isEqualTo("[0,1,2]");
        JsonNode top = lp.get("top_logprobs").get(1);
        assertThat(top.size()).isEqualTo(2);
        assertThat(top.get(text.substring(1, 2)).asDouble()).isEqualTo(-0.25);
        assertThat(top.get("B").asDouble()).isEqualTo(-0.5);

        JsonNode ids = Http.json(http.post("/v1/completions", """
                {"prompt":"hello","max_tokens":2,"logprobs":1,"return_tokens_as_token_ids":true}""")).get("choices").get(0).get("logprobs");
        assertThat(ids.get("tokens").get(0).asText()).isEqualTo("token_id:" + (int) text.charAt(0));
        assertThat(ids.get("top_logprobs").get(0).has("token_id:" + (int) text.charAt(0))).isTrue();
    }

    @Test
    void streamedLogprobsContinueTheTextOffset() throws Exception {
        List<String> events = Http.events(http.post("/v1/completions", """
                {"prompt":"hello","max_tokens":3,"logprobs":0,"stream":true}""").body());
        List<Integer> offsets = new ArrayList<>();
        for (String e : events.subList(0, events.size() - 1)) {
            for (JsonNode o : Http.JSON.readTree(e).get("choices").get(0).get("logprobs").get("text_offset")) offsets.add(o.asInt());
        }
        assertThat(offsets).containsExactly(0, 1, 2);
    }

    @Test
    void chatLogprobsHaveTheChatShape() throws Exception {
        JsonNode lp = Http.json(http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"x"}],"max_tokens":2,"logprobs":true,"top_logprobs":3}"""))
                .get("choices").get(0).get("logprobs").get("content");
        assertThat(lp).hasSize(2);
        JsonNode first = lp.get(0);
        assertThat(first.get("logprob").asDouble()).isEqualTo(-0.25);
        assertThat(first.get("bytes").get(0).asInt()).isEqualTo(first.get("token").asText().charAt(0));
        assertThat(first.get("top_logprobs")).hasSize(3);
        assertThat(first.get("top_logprobs").get(2).get("token").asText()).isEqualTo("C");
        assertThat(first.get("top_logprobs").get(2).get("logprob").asDouble()).isEqualTo(-0.75);
    }

    @Test
    void vllmSamplingFieldsReachTheEngine() throws Exception {
        http.post("/v1/completions", """
                {"prompt":"q","max_tokens":9,"top_k":5,"min_p":0.1,"repetition_penalty":1.2,"min_tokens":2,"ignore_eos":true,
                 "stop_token_ids":[120],"include_stop_str_in_output":true,"skip_special_tokens":false,"seed":7,
                 "stop":["zz"],"temperature":0.5,"top_p":0.9,"presence_penalty":0.5,"frequency_penalty":-0.5}""",
                "X-Request-Id", "fields");
        var s = engine.submitted.stream().filter(g -> g.requestId().startsWith("cmpl-fields-")).findFirst().orElseThrow().sampling();
        assertThat(s.topK()).isEqualTo(5);
        assertThat(s.minP()).isEqualTo(0.1);
        assertThat(s.repetitionPenalty()).isEqualTo(1.2);
        assertThat(s.minTokens()).isEqualTo(2);
        assertThat(s.ignoreEos()).isTrue();
        assertThat(s.stopTokenIds()).containsExactly(120);
        assertThat(s.includeStopStrInOutput()).isTrue();
        assertThat(s.skipSpecialTokens()).isFalse();
        assertThat(s.seed()).isEqualTo(7L);
        assertThat(s.stop()).containsExactly("zz");
        assertThat(s.temperature()).isEqualTo(0.5);
        assertThat(s.topP()).isEqualTo(0.9);
        assertThat(s.presencePenalty()).isEqualTo(0.5);
        assertThat(s.frequencyPenalty()).isEqualTo(-0.5);
        assertThat(s.maxTokens()).isEqualTo(9);
    }

    @Test
    void stopTokenEndsWithFinishReasonStop() throws Exception {
        int[] prompt = CODEC.encode("hello", true);
        int third = ScriptedEngine.token(prompt, 2);
        JsonNode c = Http.json(http.post("/v1/completions", """
                {"prompt":"hello","max_tokens":10,"stop_token_ids":[%d]}""".formatted(third))).get("choices").get(0);
        assertThat(c.get("finish_reason").asText()).isEqualTo("stop");
        assertThat(c.get("stop_reason").asInt()).isEqualTo(third);
        assertThat(c.get("text").asText()).isEqualTo(expected("hello", 2));
    }

    @Test
    void missingMaxTokensIsSixteenOnCompletionsAndTheContextOnChat() throws Exception {
        http.post("/v1/completions", """
                {"prompt":"abc","max_tokens":null}""", "X-Request-Id", "fill");
        var s = engine.submitted.stream().filter(g -> g.requestId().startsWith("cmpl-fill-")).findFirst().orElseThrow().sampling();
        assertThat(s.maxTokens()).isEqualTo(16);
        http.post("/v1/chat/completions", """
                {"messages":[{"role":"user","content":"abc"}]}""", "X-Request-Id", "fill");
        var g = engine.submitted.stream().filter(q -> q.requestId().startsWith("chatcmpl-fill-")).findFirst().orElseThrow();
        assertThat(g.sampling().maxTokens()).isEqualTo(256 - g.promptIds().length);
    }

    @Test
    void modelsHealthVersionTokenize() throws Exception {
        JsonNode models = Http.json(http.get("/v1/models"));
        assertThat(models.get("object").asText()).isEqualTo("list");
        JsonNode m = models.get("data").get(0);
        assertThat(m.get("id").asText()).isEqualTo("tiny");
        assertThat(m.get("owned_by").asText()).isEqualTo("pdserve");
        assertThat(m.get("max_model_len").asInt()).isEqualTo(256);
        HttpResponse<String> health = http.get("/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).isEmpty();
        assertThat(Http.json(http.get("/version")).get("version").asText()).isEqualTo("dev");

        JsonNode tok = Http.json(http.post("/tokenize", """
                {"prompt":"hi","return_token_strs":true}"""));
        assertThat(tok.get("tokens").toString()).isEqualTo("[0,104,105]");
        assertThat(tok.get("count").asInt()).isEqualTo(3);
        assertThat(tok.get("max_model_len").asInt()).isEqualTo(256);
        assertThat(tok.get("token_strs").toString()).isEqualTo("[\"<s>\",\"h\",\"i\"]");
        JsonNode chatTok = Http.json(http.post("/tokenize", """
                {"messages":[{"role":"user","content":"a"}]}"""));
        assertThat(chatTok.get("count").asInt()).isEqualTo("[user]a\n[assistant]".length());
        assertThat(Http.json(http.post("/detokenize", """
                {"tokens":[104,105]}""")).get("prompt").asText()).isEqualTo("hi");
    }
}
