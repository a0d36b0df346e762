package dev.pdserve.server;

import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * vLLM's per-request metrics over real HTTP on the real engine (DeepSeek-V3 tiny): after one request
 * every histogram holds exactly one observation, in the bucket whose bound is the first at or above it;
 * the phases add up as vLLM defines them (queue + prefill = TTFT, prefill + decode = inference, TPOT =
 * decode / (tokens - 1)); and the engine's iteration listener counts every step.
 */
class EngineMetricsTest {
    static CausalLM model;
    static Tokenizer tokenizer;
    static Engine engine;
    static OpenAiServer server;

    @BeforeAll
    static void start() throws Exception {
        model = ModelLoader.load(TestModels.deepseek(), new LoadOptions(1, null));
        tokenizer = Tokenizer.load(TestModels.deepseek());
        engine = new Engine(model, tokenizer, EngineConfig.defaults(512).withKvCacheBytes(16L << 20).withMaxNumSeqs(8));
        server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("tiny-ds")).start();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
        if (model != null) model.close();
        if (tokenizer != null) tokenizer.close();
    }

    @Test
    void oneRequestIsOneObservationInItsBucketAndThePhasesAddUp() throws Exception {
        Http http = new Http(server.port());
        var r = http.post("/v1/completions", "{\"prompt\":\"def fibonacci(n):\",\"max_tokens\":8,\"ignore_eos\":true,\"temperature\":0}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        int promptTokens = Http.json(r).get("usage").get("prompt_tokens").asInt();
        PromText m = PromText.parse(http.get("/metrics").body());

        assertThat(m.histograms()).hasSize(14);
        for (String name : m.histograms()) {
            PromText.Histogram h = m.histogram(name);
            if (name.equals("vllm:inter_token_latency_seconds")) {
                assertThat(h.count()).isEqualTo(7);
            } else if (name.equals("vllm:iteration_tokens_total")) {
                // One request alone: eight steps, each sampling its one token; the first also counts the prompt.
                assertThat(h.count()).isEqualTo(8);
                assertThat(h.sum()).isEqualTo(promptTokens + 8);
            } else {
                assertThat(h.count()).as(name).isEqualTo(1);
                assertSingleObservationBucket(name, h);
            }
        }
        assertThat(m.histogram("vllm:request_prompt_tokens").sum()).isEqualTo(promptTokens);
        assertThat(m.histogram("vllm:request_generation_tokens").sum()).isEqualTo(8);
        assertThat(m.histogram("vllm:request_params_max_tokens").sum()).isEqualTo(8);
        assertThat(m.histogram("vllm:request_max_num_generation_tokens").sum()).isEqualTo(8);
        assertThat(m.histogram("vllm:request_params_n").sum()).isEqualTo(1);

        double ttft = m.histogram("vllm:time_to_first_token_seconds").sum();
        double queue = m.histogram("vllm:request_queue_time_seconds").sum();
        double prefill = m.histogram("vllm:request_prefill_time_seconds").sum();
        double decode = m.histogram("vllm:request_decode_time_seconds").sum();
        double inference = m.histogram("vllm:request_inference_time_seconds").sum();
        double e2e = m.histogram("vllm:e2e_request_latency_seconds").sum();
        double itl = m.histogram("vllm:inter_token_latency_seconds").sum();
        Offset<Double> ns = Offset.offset(1e-8);
        assertThat(queue).isPositive();
        assertThat(prefill).isPositive();
        assertThat(queue + prefill).as("queue + prefill = TTFT").isCloseTo(ttft, ns);
        assertThat(prefill + decode).as("prefill + decode = inference").isCloseTo(inference, ns);
        assertThat(decode).as("decode = the seven inter-token gaps").isCloseTo(itl, ns);
        assertThat(m.histogram("vllm:request_time_per_output_token_seconds").sum()).isCloseTo(decode / 7, ns);
        assertThat(e2e).isGreaterThanOrEqualTo(queue + inference - 1e-8);
    }

    /** The bucket where the count goes from 0 to 1 is the first whose bound is at or above the value. */
    static void assertSingleObservationBucket(String name, PromText.Histogram h) {
        double value = h.sum();
        int first = h.cumulative().indexOf(1.0);
        assertThat(first).as(name).isGreaterThanOrEqualTo(0);
        for (int i = first; i < h.cumulative().size(); i++) assertThat(h.cumulative().get(i)).as(name).isEqualTo(1.0);
        double upper = Double.parseDouble(h.les().get(first).replace("+Inf", "Infinity"));
        assertThat(value).as(name + " <= le " + h.les().get(first)).isLessThanOrEqualTo(upper);
        if (first > 0) {
            assertThat(value).as(name + " > le " + h.les().get(first - 1)).isGreaterThan(Double.parseDouble(h.les().get(first - 1)));
        }
    }
}
