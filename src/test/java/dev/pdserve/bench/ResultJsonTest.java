package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The saved result file (vLLM's keys plus per-request records) and the plot. */
class ResultJsonTest {
    /** The top-level keys `vllm bench serve --save-result --save-detailed` writes for a generation run. */
    static final List<String> VLLM_KEYS = List.of("date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id",
            "num_prompts", "request_rate", "burstiness", "max_concurrency", "duration", "completed", "failed",
            "total_input_tokens", "total_output_tokens", "request_throughput", "request_goodput", "output_throughput",
            "total_token_throughput", "input_lens", "output_lens", "ttfts", "itls", "latencies", "start_times",
            "queue_times", "generated_texts", "errors", "max_output_tokens_per_s", "max_concurrent_requests",
            "mean_ttft_ms", "median_ttft_ms", "std_ttft_ms", "p50_ttft_ms", "p99.9_ttft_ms",
            "mean_tpot_ms", "median_tpot_ms", "std_tpot_ms", "p99.9_tpot_ms",
            "mean_itl_ms", "median_itl_ms", "std_itl_ms", "p99.9_itl_ms",
            "mean_e2el_ms", "median_e2el_ms", "std_e2el_ms", "p99.9_e2el_ms");

    /** Without --save-detailed, exactly vLLM's keys: its per-request arrays dropped, and none of pdserve's extras. */
    @Test
    void withoutSaveDetailedTheKeysAreVllms() {
        List<String> keys = new ArrayList<>();
        ResultJson.toJson(ReportTest.sampleResult("openai"), false).fieldNames().forEachRemaining(keys::add);
        List<String> expected = new ArrayList<>();
        ResultJson.toJson(ReportTest.sampleResult("openai"), true).fieldNames().forEachRemaining(expected::add);
        expected.removeAll(List.of("input_lens", "output_lens", "start_times", "ttfts", "itls", "generated_texts", "errors",
                "failure_reasons", "requests"));
        assertThat(keys).containsExactlyElementsOf(expected).contains("latencies", "queue_times", "rtfx", "p50_tpot_ms")
                .doesNotContain("ttfts", "requests");
    }

    @Test
    void writesVllmKeysAndPerRequestRecords(@TempDir Path dir) throws Exception {
        BenchmarkResult r = ReportTest.sampleResult("openai");
        Path file = ResultJson.write(r, dir.resolve("out"), null);
        assertThat(file.getFileName().toString()).isEqualTo("openai-5.0qps-concurrency4-model-x-20260102-030405.json");

        JsonNode j = new ObjectMapper().readTree(file.toFile());
        List<String> keys = new ArrayList<>();
        j.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsAll(VLLM_KEYS);
        assertThat(j.get("backend").asText()).isEqualTo("openai");
        assertThat(j.get("model_id").asText()).isEqualTo("org/model-x");
        assertThat(j.get("request_rate").asDouble()).isEqualTo(5.0);
        assertThat(j.get("max_concurrency").asInt()).isEqualTo(4);
        assertThat(j.get("completed").asInt()).isEqualTo(3);
        assertThat(j.get("failed").asInt()).isEqualTo(1);
        assertThat(j.get("total_output_tokens").asInt()).isEqualTo(7);
        assertThat(j.get("request_goodput").asDouble()).isCloseTo(1.0, within(1e-12));
        assertThat(j.get("p99.9_ttft_ms").asDouble()).isCloseTo(299.6, within(1e-9));
        assertThat(j.get("median_itl_ms").asDouble()).isCloseTo(40, within(1e-9));
        assertThat(j.get("output_lens").toString()).isEqualTo("[4,2,1,0]");
        assertThat(j.get("itls").get(0).toString()).isEqualTo("[0.02,0.03,0.05]");
        assertThat(j.get("errors").get(3).asText()).isEqualTo("HTTP 500: boom");
        assertThat(j.get("failure_reasons").get("HTTP 500: boom").asInt()).isEqualTo(1);

        JsonNode reqs = j.get("requests");
        assertThat(reqs).hasSize(4);
        assertThat(reqs.get(0).get("ttft").asDouble()).isEqualTo(0.1);
        assertThat(reqs.get(0).get("latency").asDouble()).isEqualTo(0.2);
        assertThat(reqs.get(0).get("itl")).hasSize(3);
        assertThat(reqs.get(0).get("input_len").asInt()).isEqualTo(10);
        assertThat(reqs.get(0).get("output_len").asInt()).isEqualTo(4);
        assertThat(reqs.get(3).get("success").asBoolean()).isFalse();
        assertThat(reqs.get(3).get("error").asText()).isEqualTo("HTTP 500: boom");
    }

    @Test
    void infiniteRateAndNoGoodputAreWrittenAsVllmDoes(@TempDir Path dir) throws Exception {
        BenchmarkResult s = ReportTest.sampleResult("pd");
        BenchmarkConfig c = s.config().withLoad(Double.POSITIVE_INFINITY, 1, null).withReport(List.of("ttft"), new double[] {99}, Goodput.none());
        var r = new BenchmarkResult(c, "m", s.date(), 4, 2.0, s.outputs(), BenchmarkMetrics.compute(s.outputs(), 2.0, c.percentiles(), c.goodput()));
        JsonNode j = new ObjectMapper().readTree(ResultJson.write(r, dir, "x.json").toFile());
        assertThat(j.get("request_rate").asText()).isEqualTo("inf");
        assertThat(j.get("request_goodput").isNull()).isTrue();
        assertThat(j.get("max_concurrency").isNull()).isTrue();
        assertThat(j.has("p99_ttft_ms")).isTrue();
        assertThat(j.has("mean_tpot_ms")).isFalse(); // only the --percentile-metrics, as vLLM
        assertThat(ResultJson.defaultFileName(r)).isEqualTo("pd-infqps-m-20260102-030405.json");
    }

    @Test
    void plotIsAReadablePng(@TempDir Path dir) throws Exception {
        Path png = LatencyPlot.write(List.of(ReportTest.sampleResult("colocated"), ReportTest.sampleResult("pd")), dir.resolve("p.png"));
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img).isNotNull();
        assertThat(img.getWidth()).isEqualTo(2 * 640);
        assertThat(img.getHeight()).isEqualTo(3 * 400);
    }

    @Test
    void cdfCurvePassesThroughThePrintedPercentiles() {
        double[] values = {0.3, 0.1, 0.2, 0.05, 0.4};
        double[][] cdf = LatencyPlot.cdfMs(values);
        assertThat(cdf[0]).hasSameSizeAs(cdf[1]);
        assertThat(cdf[1][0]).isZero();
        assertThat(cdf[1][cdf[1].length - 1]).isEqualTo(100);
        for (int i = 1; i < cdf[0].length; i++) {
            assertThat(cdf[0][i]).isGreaterThanOrEqualTo(cdf[0][i - 1]);
            assertThat(cdf[1][i]).isGreaterThan(cdf[1][i - 1]);
        }
        int p99 = java.util.Arrays.binarySearch(cdf[1], 99.0), p50 = java.util.Arrays.binarySearch(cdf[1], 50.0);
        assertThat(cdf[0][p99]).isCloseTo(Percentiles.percentile(values, 99) * 1000, within(1e-9));
        assertThat(cdf[0][p50]).isCloseTo(200, within(1e-9));
        assertThat(cdf[0][0]).isCloseTo(50, within(1e-9));
    }

    @Test
    void timeBucketsAreRoundAndCountTokensFromUsage() {
        assertThat(LatencyPlot.niceStep(0.0031)).isCloseTo(0.005, within(1e-12));
        assertThat(LatencyPlot.niceStep(1.0)).isCloseTo(1.0, within(1e-12));
        assertThat(LatencyPlot.niceStep(12)).isCloseTo(20, within(1e-12));
        // One request, 3 chunks carrying 6 tokens (usage), chunks at 0.15, 0.25, 0.35 s; 0.1 s buckets.
        var o = new RequestResult(true, "", 0.05, 0.1, new double[] {0.1, 0.1}, 0.3, 4, 6, true, "", 0);
        double[][] ts = LatencyPlot.timeSeries(java.util.List.of(o), 0.1, 0.4);
        assertThat(ts[0]).containsExactly(new double[] {0, 0.1, 0.2, 0.3}, within(1e-12));
        assertThat(ts[1]).containsExactly(new double[] {0, 20, 20, 20}, within(1e-9)); // 2 tokens per 0.1 s
        assertThat(ts[2]).containsExactly(new double[] {1, 1, 1, 0}, within(1e-12)); // in flight [0.05, 0.35)
    }
}
