package dev.pdserve.server;

import dev.pdserve.engine.EngineStats;
import dev.pdserve.engine.FinishReason;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** /metrics speaks vLLM's exposition: names, labels, buckets and float spelling as prometheus_client writes them. */
class MetricsTest {
    @Test
    void exposesVllmNamesLabelsAndBuckets() throws Exception {
        ScriptedEngine engine = new ScriptedEngine(256, 1);
        try (OpenAiServer server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny")).start()) {
            Http http = new Http(server.port());
            HttpResponse<String> fresh = http.get("/metrics");
            assertThat(fresh.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain; version=0.0.4");
            assertThat(fresh.body()).contains("""
                    # HELP vllm:num_requests_running Number of requests in model execution batches.
                    # TYPE vllm:num_requests_running gauge
                    vllm:num_requests_running{engine="0",model_name="tiny"} 0.0
                    # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
                    # TYPE vllm:num_requests_waiting gauge
                    vllm:num_requests_waiting{engine="0",model_name="tiny"} 0.0
                    # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
                    # TYPE vllm:kv_cache_usage_perc gauge
                    vllm:kv_cache_usage_perc{engine="0",model_name="tiny"} 0.0
                    """);
            assertThat(fresh.body()).contains("""
                    # HELP vllm:prompt_tokens_total Number of prefill tokens processed.
                    # TYPE vllm:prompt_tokens_total counter
                    vllm:prompt_tokens_total{engine="0",model_name="tiny"} 0.0
                    """);
            assertThat(buckets(fresh.body(), "vllm:time_to_first_token_seconds")).containsExactly(
                    "0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5",
                    "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0", "+Inf");
            assertThat(buckets(fresh.body(), "vllm:inter_token_latency_seconds")).containsExactly(
                    "0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2", "0.3", "0.4", "0.5", "0.75", "1.0", "2.5",
                    "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "+Inf");
            assertThat(buckets(fresh.body(), "vllm:e2e_request_latency_seconds")).containsExactly(
                    "0.3", "0.5", "0.8", "1.0", "1.5", "2.0", "2.5", "5.0", "10.0", "15.0", "20.0", "30.0", "40.0",
                    "50.0", "60.0", "120.0", "240.0", "480.0", "960.0", "1920.0", "7680.0", "+Inf");
            for (String name : List.of("vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:num_preemptions_total",
                    "vllm:generation_tokens_total")) {
                assertThat(fresh.body()).contains("# TYPE " + name + " counter\n" + name + "{engine=\"0\",model_name=\"tiny\"} 0.0\n");
            }

            assertThat(http.post("/v1/completions", "{\"prompt\":\"hello\",\"max_tokens\":5}").statusCode()).isEqualTo(200);
            String after = http.get("/metrics").body();
            assertThat(after).contains("vllm:prompt_tokens_total{engine=\"0\",model_name=\"tiny\"} 6.0\n");
            assertThat(after).contains("vllm:generation_tokens_total{engine=\"0\",model_name=\"tiny\"} 5.0\n");
            assertThat(after).contains("vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"tiny\"} 1.0\n");
            assertThat(after).contains("vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"tiny\"} 0.0\n");
            assertThat(after).contains("vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"tiny\"} 1.0\n");
            assertThat(after).contains("vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"tiny\"} 1.0\n");
            assertThat(after).contains("vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"2560.0\",model_name=\"tiny\"} 1.0\n");
            assertThat(after).contains("vllm:inter_token_latency_seconds_count{engine=\"0\",model_name=\"tiny\"} 4.0\n");
            assertThat(after).contains("vllm:e2e_request_latency_seconds_count{engine=\"0\",model_name=\"tiny\"} 1.0\n");
            assertThat(after).contains("vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"tiny\"} 0.0\n");
            // Buckets are cumulative: every bucket count is at most the next one.
            assertThat(counts(after, "vllm:e2e_request_latency_seconds")).isSorted();

            // n=2: two finished choices, one parallel-sampling observation of n and of the longest choice.
            assertThat(http.post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":3,\"n\":2}").statusCode()).isEqualTo(200);
            String two = http.get("/metrics").body();
            assertThat(two).contains("vllm:request_params_n_bucket{engine=\"0\",le=\"1.0\",model_name=\"tiny\"} 1.0\n");
            assertThat(two).contains("vllm:request_params_n_bucket{engine=\"0\",le=\"2.0\",model_name=\"tiny\"} 2.0\n");
            assertThat(two).contains("vllm:request_params_n_sum{engine=\"0\",model_name=\"tiny\"} 3.0\n");
            assertThat(two).contains("vllm:request_max_num_generation_tokens_sum{engine=\"0\",model_name=\"tiny\"} 8.0\n");
            assertThat(two).contains("vllm:request_generation_tokens_count{engine=\"0\",model_name=\"tiny\"} 3.0\n");
            assertThat(two).contains("vllm:request_generation_tokens_sum{engine=\"0\",model_name=\"tiny\"} 11.0\n");
            assertThat(two).contains("vllm:request_params_max_tokens_sum{engine=\"0\",model_name=\"tiny\"} 11.0\n");
            assertThat(two).contains("vllm:request_prompt_tokens_count{engine=\"0\",model_name=\"tiny\"} 3.0\n");
            assertThat(two).contains("vllm:e2e_request_latency_seconds_count{engine=\"0\",model_name=\"tiny\"} 3.0\n");
        } finally {
            engine.close();
        }
    }

    @Test
    void numbersAreSpelledAsPythonDoes() {
        assertThat(VllmMetrics.number(0)).isEqualTo("0.0");
        assertThat(VllmMetrics.number(6)).isEqualTo("6.0");
        assertThat(VllmMetrics.number(2560)).isEqualTo("2560.0");
        assertThat(VllmMetrics.number(0.001)).isEqualTo("0.001");
        assertThat(VllmMetrics.number(0.0005)).isEqualTo("0.0005");
        assertThat(VllmMetrics.number(1.5e-5)).isEqualTo("1.5e-05");
        assertThat(VllmMetrics.number(1e-5)).isEqualTo("1e-05");
        assertThat(VllmMetrics.number(999999.0)).isEqualTo("999999.0");
        // Go switches to exponents sooner than Python: prometheus_client's floatToGoString.
        assertThat(VllmMetrics.number(1000000.0)).isEqualTo("1e+06");
        assertThat(VllmMetrics.number(2000000.0)).isEqualTo("2e+06");
        assertThat(VllmMetrics.number(12345678.0)).isEqualTo("1.2345678e+07");
        assertThat(VllmMetrics.number(1724123456.789123)).isEqualTo("1.724123456789123e+09");
        assertThat(VllmMetrics.number(12345678901.5)).isEqualTo("1.23456789015e+010");
        assertThat(VllmMetrics.number(1e16)).isEqualTo("1e+16");
        assertThat(VllmMetrics.number(-12345678.0)).isEqualTo("-12345678.0");
        assertThat(VllmMetrics.number(Double.POSITIVE_INFINITY)).isEqualTo("+Inf");
    }

    /** Every vLLM v1 family pdserve serves, with prometheus_client's TYPE line, in vLLM's order. */
    @Test
    void servesVllmsFamiliesWithTheirTypes() {
        VllmMetrics m = new VllmMetrics("tiny", 256, MetricsTest::idle);
        List<String> types = new ArrayList<>();
        for (String line : m.scrape().split("\n")) if (line.startsWith("# TYPE vllm:")) types.add(line.substring(7));
        assertThat(types).containsExactly(
                "vllm:num_requests_running gauge", "vllm:num_requests_waiting gauge", "vllm:kv_cache_usage_perc gauge",
                "vllm:prefix_cache_queries_total counter", "vllm:prefix_cache_queries_created gauge",
                "vllm:prefix_cache_hits_total counter", "vllm:prefix_cache_hits_created gauge",
                "vllm:num_preemptions_total counter", "vllm:num_preemptions_created gauge",
                "vllm:prompt_tokens_total counter", "vllm:prompt_tokens_created gauge",
                "vllm:generation_tokens_total counter", "vllm:generation_tokens_created gauge",
                "vllm:request_success_total counter", "vllm:request_success_created gauge",
                "vllm:request_prompt_tokens histogram", "vllm:request_prompt_tokens_created gauge",
                "vllm:request_generation_tokens histogram", "vllm:request_generation_tokens_created gauge",
                "vllm:iteration_tokens_total histogram", "vllm:iteration_tokens_total_created gauge",
                "vllm:request_max_num_generation_tokens histogram", "vllm:request_max_num_generation_tokens_created gauge",
                "vllm:request_params_n histogram", "vllm:request_params_n_created gauge",
                "vllm:request_params_max_tokens histogram", "vllm:request_params_max_tokens_created gauge",
                "vllm:time_to_first_token_seconds histogram", "vllm:time_to_first_token_seconds_created gauge",
                "vllm:inter_token_latency_seconds histogram", "vllm:inter_token_latency_seconds_created gauge",
                "vllm:request_time_per_output_token_seconds histogram", "vllm:request_time_per_output_token_seconds_created gauge",
                "vllm:e2e_request_latency_seconds histogram", "vllm:e2e_request_latency_seconds_created gauge",
                "vllm:request_queue_time_seconds histogram", "vllm:request_queue_time_seconds_created gauge",
                "vllm:request_inference_time_seconds histogram", "vllm:request_inference_time_seconds_created gauge",
                "vllm:request_prefill_time_seconds histogram", "vllm:request_prefill_time_seconds_created gauge",
                "vllm:request_decode_time_seconds histogram", "vllm:request_decode_time_seconds_created gauge");
        String text = m.scrape();
        assertThat(text).contains("""
                # HELP vllm:prompt_tokens_created Number of prefill tokens processed.
                # TYPE vllm:prompt_tokens_created gauge
                vllm:prompt_tokens_created{engine="0",model_name="tiny"} """);
        Matcher created = Pattern.compile("vllm:prompt_tokens_created\\{[^}]*} (\\S+)").matcher(text);
        assertThat(created.find()).isTrue();
        assertThat(created.group(1)).matches("1\\.\\d+e\\+09");
        assertThat(Double.parseDouble(created.group(1))).isCloseTo(System.currentTimeMillis() / 1000.0, Offset.offset(60.0));
        assertThat(text).contains("vllm:request_success_created{engine=\"0\",finished_reason=\"abort\",model_name=\"tiny\"} ");
        // Token-count histograms take vLLM's build_1_2_5_buckets(max_model_len).
        for (String name : List.of("vllm:request_prompt_tokens", "vllm:request_generation_tokens",
                "vllm:request_max_num_generation_tokens", "vllm:request_params_max_tokens")) {
            assertThat(buckets(text, name)).as(name).containsExactly("1.0", "2.0", "5.0", "10.0", "20.0", "50.0", "100.0", "200.0", "+Inf");
        }
        assertThat(buckets(text, "vllm:iteration_tokens_total")).containsExactly("1.0", "8.0", "16.0", "32.0", "64.0", "128.0",
                "256.0", "512.0", "1024.0", "2048.0", "4096.0", "8192.0", "16384.0", "+Inf");
        assertThat(buckets(text, "vllm:request_params_n")).containsExactly("1.0", "2.0", "5.0", "10.0", "20.0", "+Inf");
        assertThat(buckets(text, "vllm:request_time_per_output_token_seconds")).isEqualTo(buckets(text, "vllm:inter_token_latency_seconds"));
        for (String name : List.of("vllm:request_queue_time_seconds", "vllm:request_inference_time_seconds",
                "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds")) {
            assertThat(buckets(text, name)).as(name).isEqualTo(buckets(text, "vllm:e2e_request_latency_seconds"));
        }
    }

    /**
     * Known observations, several exactly on a bound, land in the bucket of that bound and in no lower
     * one: queue 0.3 s, prefill 0.5 s, decode 1.0 s over 10 tokens (TPOT 0.1 s), inference 1.5 s, e2e
     * 2.3 s, a 3 ms inter-token gap, TTFT 0.8 s, 20 prompt tokens, 11 generated, max_tokens 100.
     */
    @Test
    void knownValuesLandInTheirBuckets() {
        VllmMetrics m = new VllmMetrics("tiny", 256, MetricsTest::idle);
        long t0 = 5_000_000_000L;
        m.recordFinished(new VllmMetrics.FinishedRequest(FinishReason.LENGTH, t0, t0 + 300_000_000L,
                t0 + 800_000_000L, t0 + 1_800_000_000L, t0 + 2_300_000_000L, 20, 11, 100));
        m.recordInterToken(0.003);
        m.recordFirstToken(0.8);
        m.recordIteration(8);
        m.recordParallelSampling(11, 2);
        String text = m.scrape();
        assertFirstBucket(text, "vllm:request_queue_time_seconds", "0.3", 0.3);
        assertFirstBucket(text, "vllm:request_prefill_time_seconds", "0.5", 0.5);
        assertFirstBucket(text, "vllm:request_decode_time_seconds", "1.0", 1.0);
        assertFirstBucket(text, "vllm:request_inference_time_seconds", "1.5", 1.5);
        assertFirstBucket(text, "vllm:e2e_request_latency_seconds", "2.5", 2.3);
        assertFirstBucket(text, "vllm:request_time_per_output_token_seconds", "0.1", 0.1);
        assertFirstBucket(text, "vllm:inter_token_latency_seconds", "0.01", 0.003);
        assertFirstBucket(text, "vllm:time_to_first_token_seconds", "1.0", 0.8);
        assertFirstBucket(text, "vllm:request_prompt_tokens", "20.0", 20);
        assertFirstBucket(text, "vllm:request_generation_tokens", "20.0", 11);
        assertFirstBucket(text, "vllm:request_params_max_tokens", "100.0", 100);
        assertFirstBucket(text, "vllm:iteration_tokens_total", "8.0", 8);
        assertFirstBucket(text, "vllm:request_max_num_generation_tokens", "20.0", 11);
        assertFirstBucket(text, "vllm:request_params_n", "2.0", 2);
        assertThat(text).contains("vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"tiny\"} 1.0\n");
    }

    /** A request that never got a token and was never scheduled spent its whole life queued. */
    @Test
    void anUnscheduledAbortIsAllQueueTime() {
        VllmMetrics m = new VllmMetrics("tiny", 256, MetricsTest::idle);
        m.recordFinished(new VllmMetrics.FinishedRequest(FinishReason.ABORT, 1_000L, 0, 0, 0, 1_000L + 400_000_000L, 7, 0, 16));
        String text = m.scrape();
        assertFirstBucket(text, "vllm:request_queue_time_seconds", "0.5", 0.4);
        assertFirstBucket(text, "vllm:request_prefill_time_seconds", "0.3", 0.0);
        assertFirstBucket(text, "vllm:request_decode_time_seconds", "0.3", 0.0);
        assertFirstBucket(text, "vllm:request_time_per_output_token_seconds", "0.01", 0.0);
        assertThat(text).contains("vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"tiny\"} 1.0\n");
    }

    /** The one observation of {@code name} is counted from bucket {@code le} on, not before, and is the sum. */
    static void assertFirstBucket(String text, String name, String le, double value) {
        List<String> les = buckets(text, name);
        List<Double> counts = counts(text, name);
        int at = les.indexOf(le);
        assertThat(at).as(name + " has le=" + le).isGreaterThanOrEqualTo(0);
        for (int i = 0; i < counts.size(); i++) {
            assertThat(counts.get(i)).as(name + " le=" + les.get(i)).isEqualTo(i < at ? 0.0 : 1.0);
        }
        assertThat(text).contains(name + "_count{engine=\"0\",model_name=\"tiny\"} 1.0\n");
        assertThat(text).contains(name + "_sum{engine=\"0\",model_name=\"tiny\"} " + VllmMetrics.number(value) + "\n");
    }

    static EngineStats idle() {
        return new EngineStats(0, 0, 0, 100, 0, 0, 0, 0, 0, 0);
    }

    static List<String> buckets(String text, String name) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile(Pattern.quote(name) + "_bucket\\{engine=\"0\",le=\"([^\"]+)\",model_name=\"[^\"]*\"} ").matcher(text);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    static List<Double> counts(String text, String name) {
        List<Double> out = new ArrayList<>();
        Matcher m = Pattern.compile(Pattern.quote(name) + "_bucket\\{[^}]*} (\\S+)").matcher(text);
        while (m.find()) out.add(Double.parseDouble(m.group(1)));
        return out;
    }
}
