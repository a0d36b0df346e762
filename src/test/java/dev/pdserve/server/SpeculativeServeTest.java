package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.SpeculativeConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Speculative decoding behind the OpenAI API on the real DeepSeek-V3 tiny model: the same JSON
 * answers (text, logprobs, n choices, stop strings, streamed deltas) as a server that does not
 * speculate, and vLLM's spec_decode counters on /metrics.
 */
class SpeculativeServeTest {
    static final List<AutoCloseable> open = new ArrayList<>();
    static OpenAiServer plain, spec;

    static OpenAiServer serve(SpeculativeConfig c) throws Exception {
        CausalLM model = ModelLoader.load(TestModels.deepseek(), new LoadOptions(1, null));
        Tokenizer tokenizer = Tokenizer.load(TestModels.deepseek());
        Engine engine = new Engine(model, tokenizer, EngineConfig.defaults(1024).withKvCacheBytes(32L << 20).withMaxNumSeqs(8).withSpeculative(c));
        OpenAiServer server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("tiny-ds")).start();
        open.addAll(List.of(tokenizer, model, engine, server));
        return server;
    }

    @BeforeAll
    static void start() throws Exception {
        plain = serve(null);
        spec = serve(SpeculativeConfig.ngram(4, 2, 4));
    }

    @AfterAll
    static void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    }

    static final String CODE = "def area(width, height):\\n    return width * height\\n\\n\\ndef main():\\n    print(area(3, 4))\\n"
            + "\\n\\n# the same file, with area renamed to surface\\ndef surface(width, height):\\n";

    static JsonNode post(OpenAiServer s, String body) throws Exception {
        var r = new Http(s.port()).post("/v1/completions", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Http.json(r);
    }

    @Test
    void answersAsPlainDecodingAndCountsDrafts() throws Exception {
        String[] bodies = {
                "{\"prompt\":\"" + CODE + "\",\"max_tokens\":48,\"temperature\":0,\"logprobs\":2,\"n\":2}",
                "{\"prompt\":\"" + CODE + "\",\"max_tokens\":48,\"temperature\":0,\"stop\":[\"print\"],\"presence_penalty\":0.5}",
                "{\"prompt\":\"" + CODE + CODE + "\",\"max_tokens\":30,\"temperature\":0,\"ignore_eos\":true,\"min_tokens\":30}",
        };
        for (String body : bodies) {
            JsonNode a = post(plain, body).get("choices"), b = post(spec, body).get("choices");
            assertThat(b.size()).isEqualTo(a.size());
            for (int i = 0; i < a.size(); i++) {
                assertThat(b.get(i).get("text").asText()).as(body).isEqualTo(a.get(i).get("text").asText());
                assertThat(b.get(i).get("logprobs")).isEqualTo(a.get(i).get("logprobs"));
                assertThat(b.get(i).get("finish_reason")).isEqualTo(a.get(i).get("finish_reason"));
            }
        }
        String stream = "{\"prompt\":\"" + CODE + "\",\"max_tokens\":40,\"temperature\":0,\"stream\":true}";
        assertThat(streamedText(spec, stream)).isEqualTo(streamedText(plain, stream));

        PromText m = PromText.parse(new Http(spec.port()).get("/metrics").body());
        double drafts = m.value("vllm:spec_decode_num_drafts_total"), tokens = m.value("vllm:spec_decode_num_draft_tokens_total");
        double accepted = m.value("vllm:spec_decode_num_accepted_tokens_total");
        assertThat(drafts).isPositive();
        assertThat(tokens).isBetween(drafts, 4 * drafts);
        assertThat(accepted).isPositive().isLessThanOrEqualTo(tokens);
        double perPos = 0, previous = Double.MAX_VALUE;
        for (PromText.Sample s : m.samples()) {
            if (!s.name().equals("vllm:spec_decode_num_accepted_tokens_per_pos_total")) continue;
            assertThat(s.value()).as("position " + s.labels().get("position") + " is accepted only after the one before").isLessThanOrEqualTo(previous);
            previous = s.value();
            perPos += s.value();
        }
        assertThat(perPos).isEqualTo(accepted);
        assertThat(PromText.parse(new Http(plain.port()).get("/metrics").body()).has("vllm:spec_decode_num_drafts_total")).isFalse();
    }

    static String streamedText(OpenAiServer s, String body) throws Exception {
        var r = new Http(s.port()).post("/v1/completions", body);
        assertThat(r.statusCode()).isEqualTo(200);
        StringBuilder text = new StringBuilder();
        for (String e : Http.events(r.body())) {
            if (e.equals("[DONE]")) continue;
            JsonNode c = Http.JSON.readTree(e).path("choices");
            if (c.size() > 0) text.append(c.get(0).path("text").asText());
        }
        return text.toString();
    }
}
