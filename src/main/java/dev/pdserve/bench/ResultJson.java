package dev.pdserve.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The result file of {@code vllm bench serve --save-result}: the same top-level keys (so vLLM's plotting and
 * comparison scripts read it), the per-request arrays vLLM writes with --save-detailed, plus
 * {@code failure_reasons} and one {@code requests} record per request.
 */
public final class ResultJson {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private ResultJson() {}

    public static ObjectNode toJson(BenchmarkResult r) {
        return toJson(r, true);
    }

    /**
     * Without {@code detailed} (vLLM's --save-detailed) the per-request arrays vLLM drops are left out
     * (input_lens, output_lens, start_times, ttfts, itls, generated_texts, errors), and so are pdserve's
     * failure_reasons and requests.
     */
    public static ObjectNode toJson(BenchmarkResult r, boolean detailed) {
        BenchmarkConfig c = r.config();
        BenchmarkMetrics m = r.metrics();
        ObjectNode j = JSON.createObjectNode();
        j.put("date", r.date().format(DATE));
        j.put("endpoint_type", c.backend().cliName);
        j.put("backend", c.backend().cliName);
        j.put("label", c.label());
        j.put("model_id", r.modelId());
        j.put("tokenizer_id", c.tokenizerId());
        j.put("num_prompts", r.numPrompts());
        if (Double.isInfinite(c.requestRate())) j.put("request_rate", "inf");
        else j.put("request_rate", c.requestRate());
        j.put("burstiness", c.burstiness());
        if (c.maxConcurrency() == null) j.putNull("max_concurrency");
        else j.put("max_concurrency", c.maxConcurrency());

        j.put("duration", r.durationS());
        j.put("completed", m.completed());
        j.put("failed", m.failed());
        j.put("total_input_tokens", m.totalInput());
        j.put("total_output_tokens", m.totalOutput());
        j.put("request_throughput", m.requestThroughput());
        if (c.goodput().enabled()) j.put("request_goodput", m.requestGoodput());
        else j.putNull("request_goodput");
        j.put("output_throughput", m.outputThroughput());
        j.put("total_token_throughput", m.totalTokenThroughput());

        ArrayNode inputLens = j.putArray("input_lens"), outputLens = j.putArray("output_lens");
        ArrayNode ttfts = j.putArray("ttfts"), itls = j.putArray("itls"), latencies = j.putArray("latencies");
        ArrayNode starts = j.putArray("start_times"), queues = j.putArray("queue_times");
        ArrayNode texts = j.putArray("generated_texts"), errors = j.putArray("errors");
        ArrayNode requests = JSON.createArrayNode();
        for (int i = 0; i < r.outputs().size(); i++) {
            RequestResult o = r.outputs().get(i);
            inputLens.add(o.promptLen());
            outputLens.add(m.outputLens()[i]);
            ttfts.add(o.ttft());
            ArrayNode itl = itls.addArray();
            for (double x : o.itl()) itl.add(x);
            latencies.add(o.latency());
            starts.add(o.startTime());
            queues.add(o.queueTime());
            texts.add(o.generatedText());
            errors.add(o.error());

            ObjectNode rec = requests.addObject();
            rec.put("index", i);
            rec.put("success", o.success());
            rec.put("start_time", o.startTime());
            rec.put("queue_time", o.queueTime());
            rec.put("ttft", o.ttft());
            rec.set("itl", itl.deepCopy());
            rec.put("latency", o.latency());
            rec.put("input_len", o.promptLen());
            rec.put("output_len", m.outputLens()[i]);
            rec.put("output_len_from_usage", o.usageReported());
            rec.put("error", o.error());
        }
        j.put("max_output_tokens_per_s", m.maxOutputTokensPerS());
        j.put("max_concurrent_requests", m.maxConcurrentRequests());
        j.put("rtfx", 0.0); // vLLM's inverse real-time factor of audio benchmarks
        for (String[] metric : c.reportedMetrics()) {
            BenchmarkMetrics.MetricStats s = m.stats().get(metric[0]);
            j.put("mean_" + metric[0] + "_ms", s.meanMs());
            j.put("median_" + metric[0] + "_ms", s.medianMs());
            j.put("std_" + metric[0] + "_ms", s.stdMs());
            for (int i = 0; i < s.percentiles().length; i++) {
                j.put("p" + Report.percentileWord(s.percentiles()[i]) + "_" + metric[0] + "_ms", s.valuesMs()[i]);
            }
        }
        if (!detailed) {
            j.remove(List.of("input_lens", "output_lens", "start_times", "ttfts", "itls", "generated_texts", "errors"));
            return j;
        }
        ObjectNode reasons = j.putObject("failure_reasons");
        m.failureReasons().forEach(reasons::put);
        j.set("requests", requests);
        return j;
    }

    /** vLLM's default name: {label}-{rate}qps[-concurrency{N}]-{model basename}-{date}.json. */
    public static String defaultFileName(BenchmarkResult r) {
        BenchmarkConfig c = r.config();
        String rate = Double.isInfinite(c.requestRate()) ? "inf" : Double.toString(c.requestRate());
        String conc = c.maxConcurrency() == null ? "" : "-concurrency" + c.maxConcurrency();
        String model = r.modelId().substring(r.modelId().lastIndexOf('/') + 1);
        return c.label() + "-" + rate + "qps" + conc + "-" + model + "-" + r.date().format(DATE) + ".json";
    }

    public static Path write(BenchmarkResult r, Path dir, String fileName) {
        return write(r, dir, fileName, true);
    }

    public static Path write(BenchmarkResult r, Path dir, String fileName, boolean detailed) {
        Path file = (dir == null ? Path.of(".") : dir).resolve(fileName == null ? defaultFileName(r) : fileName);
        try {
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            JSON.writeValue(file.toFile(), toJson(r, detailed));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write result file " + file + ": " + e.getMessage(), e);
        }
    }
}
