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
    void cdfIsMonotoneAndEndsAtOneHundred() {
        double[][] cdf = LatencyPlot.cdfMs(new double[] {0.3, 0.1, 0.2});
        assertThat(cdf[0]).containsExactly(new double[] {100, 200, 300}, within(1e-9));
        assertThat(cdf[1]).containsExactly(new double[] {100.0 / 3, 200.0 / 3, 100}, within(1e-9));
        double[] many = new double[10_000];
        for (int i = 0; i < many.length; i++) many[i] = i;
        double[][] big = LatencyPlot.cdfMs(many);
        assertThat(big[0]).hasSize(2000);
        assertThat(big[1][1999]).isEqualTo(100);
    }
}
