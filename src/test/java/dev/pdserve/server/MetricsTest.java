package dev.pdserve.server;

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
        assertThat(VllmMetrics.number(12345678.0)).isEqualTo("12345678.0");
        assertThat(VllmMetrics.number(Double.POSITIVE_INFINITY)).isEqualTo("+Inf");
    }

    private static List<String> buckets(String text, String name) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile(Pattern.quote(name) + "_bucket\\{engine=\"0\",le=\"([^\"]+)\",model_name=\"tiny\"} ").matcher(text);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    private static List<Double> counts(String text, String name) {
        List<Double> out = new ArrayList<>();
        Matcher m = Pattern.compile(Pattern.quote(name) + "_bucket\\{[^}]*} (\\S+)").matcher(text);
        while (m.find()) out.add(Double.parseDouble(m.group(1)));
        return out;
    }
}
