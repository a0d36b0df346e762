package dev.pdserve.bench;

import dev.pdserve.bench.FakeOpenAiServer.Behavior;
import dev.pdserve.bench.FakeOpenAiServer.Kind;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The runner against a real SSE server on loopback: what it measures, what it sends, how it counts failures. */
class BenchmarkRunnerTest {
    private static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

    private static List<SampleRequest> prompts(int n, int outputLen) {
        List<SampleRequest> r = new ArrayList<>();
        for (int i = 0; i < n; i++) r.add(new SampleRequest("prompt number " + i, 3, outputLen));
        return r;
    }

    private static BenchmarkResult run(FakeOpenAiServer server, BenchmarkConfig config, List<SampleRequest> reqs) {
        try (var runner = new BenchmarkRunner(config, QUIET, QUIET)) {
            return runner.run(reqs);
        }
    }

    @Test
    void streamsAreTimedAndTokensComeFromUsage() throws Exception {
        try (var server = new FakeOpenAiServer((i, body) -> Behavior.ok(body.get("max_tokens").asInt(), 30, 5))) {
            BenchmarkConfig config = BenchmarkConfig.defaults(Backend.OPENAI, server.baseUrl());
            BenchmarkResult r = run(server, config, prompts(6, 5));

            assertThat(r.modelId()).isEqualTo(FakeOpenAiServer.MODEL); // asked /v1/models
            assertThat(r.outputs()).hasSize(6).allSatisfy(o -> {
                assertThat(o.success()).as(o.error()).isTrue();
                assertThat(o.outputTokens()).isEqualTo(5);
                assertThat(o.usageReported()).isTrue();
                assertThat(o.promptLen()).isEqualTo(FakeOpenAiServer.PROMPT_TOKENS); // server's count wins
                assertThat(o.itl()).hasSize(o.chunks() - 1).hasSize(4);
                assertThat(o.ttft()).isGreaterThanOrEqualTo(0.029).isLessThanOrEqualTo(o.latency());
                // Single gaps depend on when the client thread ran; their sum cannot beat the server's sleeps.
                assertThat(o.latency()).isGreaterThanOrEqualTo(0.030 + 4 * 0.005 - 1e-3);
                assertThat(o.generatedText()).isEqualTo(" tok".repeat(5));
                double itlSum = 0;
                for (double g : o.itl()) itlSum += g;
                assertThat(o.ttft() + itlSum).isCloseTo(o.latency(), within(1e-6));
            });
            assertThat(r.metrics().completed()).isEqualTo(6);
            assertThat(r.metrics().totalOutput()).isEqualTo(30);
            assertThat(r.metrics().totalInput()).isEqualTo(6L * FakeOpenAiServer.PROMPT_TOKENS);
            assertThat(server.bodies).allSatisfy(b -> {
                assertThat(b.get("model").asText()).isEqualTo(FakeOpenAiServer.MODEL);
                assertThat(b.get("stream").asBoolean()).isTrue();
                assertThat(b.get("stream_options").get("include_usage").asBoolean()).isTrue();
                assertThat(b.get("max_tokens").asInt()).isEqualTo(5);
                assertThat(b.has("ignore_eos")).isFalse();
                // vLLM's completions body: no temperature unless asked, repetition_penalty 1, logprobs null.
                assertThat(b.has("temperature")).isFalse();
                assertThat(b.get("repetition_penalty").asDouble()).isEqualTo(1.0);
                assertThat(b.get("logprobs").isNull()).isTrue();
                assertThat(b.get("prompt").asText()).startsWith("prompt number ");
            });
            assertThat(server.requestIds).containsExactlyInAnyOrder("bench-0", "bench-1", "bench-2", "bench-3", "bench-4", "bench-5");
        }
    }

    @Test
    void severalTokensPerChunkAreCountedFromUsageAndChunksWithoutUsage() throws Exception {
        try (var server = new FakeOpenAiServer((i, body) -> i % 2 == 0
                ? new Behavior(Kind.OK, 6, 2, 0, 2, true)
                : new Behavior(Kind.OK, 6, 2, 0, 2, false))) {
            BenchmarkResult r = run(server, BenchmarkConfig.defaults(Backend.VLLM, server.baseUrl()).withModel("m"), prompts(4, 6));
            for (RequestResult o : r.outputs()) {
                assertThat(o.success()).isTrue();
                assertThat(o.chunks()).isEqualTo(3);
                assertThat(o.itl()).hasSize(2);
                // With usage the server's 6 tokens count; without it, vLLM-style fallback counts chunks.
                assertThat(o.outputTokens()).isEqualTo(o.usageReported() ? 6 : 3);
            }
            assertThat(r.outputs().stream().filter(RequestResult::usageReported).count()).isEqualTo(2);
            assertThat(r.metrics().totalOutput()).isEqualTo(2 * 6 + 2 * 3);
        }
    }

    /**
     * vLLM's definition: every chunk with choices is a token event, whatever its text. A role chunk sent at
     * once is the "first token" (which is why a server must send it with the first token, as vLLM does);
     * an empty-text finish chunk is the last one.
     */
    @Test
    void everyChunkWithChoicesIsATokenEventAsInVllm() throws Exception {
        try (var server = new FakeOpenAiServer((i, body) -> new Behavior(Kind.EMPTY_FINISH, body.get("max_completion_tokens").asInt(), 1, 40, 3, true))) {
            BenchmarkConfig config = BenchmarkConfig.defaults(Backend.OPENAI_CHAT, server.baseUrl());
            assertThat(config.apiUrl()).endsWith("/v1/chat/completions");
            BenchmarkResult r = run(server, config, prompts(3, 4));
            assertThat(r.outputs()).allSatisfy(o -> {
                assertThat(o.success()).isTrue();
                assertThat(o.chunks()).isEqualTo(1 + 4 + 1); // role, four tokens, the empty finish chunk
                // TTFT is the role chunk's; the first text came only after the server's 40 ms (load-proof: a sum, not a split).
                assertThat(o.ttft() + o.itl()[0]).isGreaterThanOrEqualTo(0.039);
                assertThat(o.outputTokens()).isEqualTo(4); // the usage chunk's count; it moves no time
                assertThat(o.generatedText()).isEqualTo(" tok".repeat(4));
            });
            assertThat(server.bodies).allSatisfy(b -> {
                assertThat(b.get("messages").get(0).get("role").asText()).isEqualTo("user");
                JsonNode part = b.get("messages").get(0).get("content").get(0);
                assertThat(part.get("type").asText()).isEqualTo("text");
                assertThat(part.get("text").asText()).startsWith("prompt number");
            });
        }
    }

    @Test
    void failuresAreCountedWithTheirReasons() throws Exception {
        List<Kind> plan = List.of(Kind.OK, Kind.HTTP_500, Kind.BAD_JSON, Kind.DROP, Kind.NO_TOKENS,
                Kind.OK, Kind.HTTP_500, Kind.OK, Kind.OK, Kind.OK);
        try (var server = new FakeOpenAiServer((i, body) -> plan.get(i) == Kind.OK ? Behavior.ok(3, 0, 1) : Behavior.fail(plan.get(i)))) {
            // One at a time, so the n-th request the server sees is the n-th of the plan.
            BenchmarkConfig config = BenchmarkConfig.defaults(Backend.OPENAI, server.baseUrl()).withLoad(Double.POSITIVE_INFINITY, 1, 1);
            BenchmarkResult r = run(server, config, prompts(10, 3));

            BenchmarkMetrics m = r.metrics();
            assertThat(r.outputs()).hasSize(10);
            assertThat(m.completed()).isEqualTo(5);
            assertThat(m.failed()).isEqualTo(5);
            assertThat(m.totalOutput()).isEqualTo(15);
            assertThat(m.failureReasons()).hasSize(4);
            assertThat(m.failureReasons().entrySet().iterator().next().getKey()).isEqualTo("HTTP 500: engine overloaded");
            assertThat(m.failureReasons()).containsEntry("HTTP 500: engine overloaded", 2)
                    .containsEntry(OpenAiStreamClient.NO_TOKEN_ERROR, 1);
            assertThat(m.failureReasons().keySet()).anySatisfy(k -> assertThat(k).startsWith("invalid JSON in stream: {\"choices\""));
            assertThat(m.failureReasons().keySet()).anySatisfy(k -> assertThat(k).startsWith("connection error: IOException"));
            assertThat(r.outputs().get(1).error()).isEqualTo("HTTP 500: engine overloaded");
            assertThat(r.outputs().get(3).error()).startsWith("connection error");

            var buf = new ByteArrayOutputStream();
            Report.summary(r, new PrintStream(buf, true, StandardCharsets.UTF_8));
            String text = buf.toString(StandardCharsets.UTF_8);
            assertThat(text).contains("Successful requests:                     5 ")
                    .contains("Failed requests:                         5 ")
                    .contains("    2 x HTTP 500: engine overloaded").doesNotContain("All requests failed");
        }
    }

    @Test
    void maxConcurrencyCapsRequestsInFlight() throws Exception {
        // The first two answers wait for each other, so both slots are seen full however slowly the machine
        // sends the second request (a loaded machine once sent it after the first had finished).
        java.util.concurrent.CountDownLatch firstTwo = new java.util.concurrent.CountDownLatch(2);
        try (var server = new FakeOpenAiServer((i, body) -> {
            firstTwo.countDown();
            try {
                firstTwo.await(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Behavior.ok(2, 40, 1);
        })) {
            BenchmarkConfig config = BenchmarkConfig.defaults(Backend.OPENAI, server.baseUrl()).withModel("m")
                    .withLoad(Double.POSITIVE_INFINITY, 1, 2);
            BenchmarkResult r = run(server, config, prompts(6, 2));
            assertThat(r.metrics().completed()).isEqualTo(6);
            assertThat(server.maxInFlight.get()).isEqualTo(2); // seen by the server, not just by the client
            assertThat(r.metrics().maxConcurrentRequests()).isBetween(1, 2);
            // Requests 3..6 waited for a slot: client queue time is recorded, start times come after it.
            assertThat(r.outputs().stream().filter(o -> o.queueTime() > 0.03).count()).isGreaterThanOrEqualTo(3);
            assertThat(r.durationS()).isGreaterThan(3 * 0.04);
        }
        // Without a cap all 6 are in flight together: each answer waits until the 6th request arrived (a cap would keep it out).
        java.util.concurrent.CountDownLatch arrived = new java.util.concurrent.CountDownLatch(6);
        try (var server = new FakeOpenAiServer((i, body) -> {
            arrived.countDown();
            try {
                arrived.await(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Behavior.ok(2, 0, 1);
        })) {
            run(server, BenchmarkConfig.defaults(Backend.OPENAI, server.baseUrl()).withModel("m"), prompts(6, 2));
            assertThat(server.maxInFlight.get()).isEqualTo(6);
        }
    }

    @Test
    void requestsLeaveOnTheScheduleAndWarmupsAreNotCounted() throws Exception {
        try (var server = new FakeOpenAiServer((i, body) -> Behavior.ok(2, 0, 0))) {
            BenchmarkConfig base = BenchmarkConfig.defaults(Backend.OPENAI, server.baseUrl()).withModel("m").withLoad(40, 1, null);
            BenchmarkConfig config = new BenchmarkConfig(base.label(), base.backend(), base.baseUrl(), base.endpoint(), "m",
                    null, 40, 1.0, null, true, 2, 7, base.percentileMetrics(), base.percentiles(), Goodput.none(),
                    java.util.Map.of(), java.util.Map.of("temperature", 0.0), "run-", false);
            BenchmarkResult r = run(server, config, prompts(8, 2));
            double[] offsets = ArrivalSchedule.offsets(8, 40, 1.0, 7);
            for (int i = 0; i < 8; i++) assertThat(r.outputs().get(i).startTime()).isGreaterThanOrEqualTo(offsets[i] - 1e-3);
            assertThat(r.durationS()).isGreaterThanOrEqualTo(8 / 40.0 - 1e-3);
            assertThat(r.outputs()).hasSize(8);
            assertThat(server.bodies).hasSize(10); // 2 warmups + 8
            assertThat(server.bodies).allSatisfy(b -> {
                assertThat(b.get("ignore_eos").asBoolean()).isTrue();
                assertThat(b.get("temperature").asDouble()).isZero();
            });
        }
    }
}
