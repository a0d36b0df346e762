package dev.pdserve.launch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.bench.Backend;
import dev.pdserve.bench.BenchmarkConfig;
import dev.pdserve.bench.BenchmarkResult;
import dev.pdserve.bench.BenchmarkRunner;
import dev.pdserve.bench.Goodput;
import dev.pdserve.bench.HfPromptTokenizer;
import dev.pdserve.bench.RandomDataset;
import dev.pdserve.bench.Report;
import dev.pdserve.bench.SampleRequest;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code pdserve demo}: PD disaggregation end to end on one machine. Starts prefill, decode and proxy on
 * loopback, asks one question through the proxy, runs a short {@code bench serve} against it, and stops
 * everything. A watchdog stops the processes when the whole run takes longer than its timeout, which makes
 * any request still waiting on them fail, so the demo cannot hang.
 */
public final class Demo {
    public static final String PROMPT = "how is it today";
    static final String MODEL_NAME = "deepseek-v3-tiny";
    /** Small and fixed, so three instances fit next to each other on any laptop. */
    static final List<String> SERVE_ARGS = List.of("--kv-cache-memory", "128MiB");
    /** Per process; the tiny model loads in a second or two, the JVM start is most of it. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    /** The answer to {@link #PROMPT} and the benchmark's result. */
    public record Result(String answer, BenchmarkResult bench) {}

    private Demo() {}

    public static Result run(Path modelDir, Path logDir, Duration timeout, PrintStream out) {
        out.println("pdserve demo: prefill (kv_producer) + decode (kv_consumer) + proxy on 127.0.0.1, model " + modelDir);
        out.println("logs in " + logDir);
        var options = new LocalDeployment.Options(modelDir, MODEL_NAME, logDir, SERVE_ARGS,
                READY_TIMEOUT.compareTo(timeout) < 0 ? READY_TIMEOUT : timeout, Duration.ofSeconds(15));
        AtomicBoolean timedOut = new AtomicBoolean();
        try (LocalDeployment pd = LocalDeployment.disaggregated(options, Placement.ANYWHERE, Placement.ANYWHERE, out);
             Watchdog ignored = new Watchdog(timeout, () -> {
                 timedOut.set(true);
                 pd.close();
             })) {
            try {
                out.println();
                out.println("POST " + pd.baseUrl() + "/v1/completions " + requestBody());
                String answer = complete(pd.baseUrl(), timeout);
                out.println("Prompt: " + PROMPT);
                out.println("Answer: " + answer);
                out.println();
                BenchmarkResult bench = bench(modelDir, pd.baseUrl(), out);
                Report.summary(bench, out);
                if (bench.metrics().failed() > 0) {
                    throw new LaunchException(bench.metrics().failed() + " of " + bench.numPrompts()
                            + " benchmark requests failed (reasons above); see the logs in " + logDir);
                }
                return new Result(answer, bench);
            } catch (RuntimeException e) {
                if (timedOut.get()) throw new LaunchException("demo did not finish within " + timeout.toSeconds() + " s; see the logs in " + logDir, e);
                throw e;
            }
        } finally {
            out.println("stopped every process the demo started");
        }
    }

    static String requestBody() {
        return "{\"model\":\"" + MODEL_NAME + "\",\"prompt\":\"" + PROMPT + "\",\"max_tokens\":50,\"temperature\":0}";
    }

    /** The one question, non-streaming; an error body or an empty answer is a failure. */
    static String complete(String baseUrl, Duration timeout) {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            HttpRequest req = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/completions")).timeout(timeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(requestBody())).build();
            HttpResponse<String> res = http.send(req, HttpResponse.BodyHandlers.ofString());
            JsonNode body;
            try {
                body = new ObjectMapper().readTree(res.body());
            } catch (IOException e) {
                throw new LaunchException("the proxy answered HTTP " + res.statusCode() + " with a body that is not JSON: " + abbreviate(res.body()));
            }
            if (res.statusCode() != 200 || body.has("error")) {
                throw new LaunchException("the proxy answered HTTP " + res.statusCode() + ": " + abbreviate(res.body()));
            }
            String text = body.path("choices").path(0).path("text").asText("");
            if (text.isEmpty()) throw new LaunchException("the proxy answered with an empty completion: " + abbreviate(res.body()));
            return text;
        } catch (IOException e) {
            throw new LaunchException("request through the proxy failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while waiting for the answer", e);
        }
    }

    /** {@code bench serve --num-prompts 10 --random-input-len 10 --random-output-len 100 --ignore-eos --max-concurrency 4 --request-rate 4}. */
    static BenchmarkResult bench(Path modelDir, String baseUrl, PrintStream out) {
        List<SampleRequest> prompts;
        try (HfPromptTokenizer tok = HfPromptTokenizer.load(modelDir)) {
            prompts = RandomDataset.sample(tok, 10, 10, 100, 0.0, 0, 0);
        }
        BenchmarkConfig config = new BenchmarkConfig("pd-proxy", Backend.OPENAI, baseUrl, null, MODEL_NAME,
                modelDir.toString(), 4.0, 1.0, 4, true, 0, 0, List.of("ttft", "tpot", "itl", "e2el"),
                new double[] {50, 99}, Goodput.none(), Map.of(), Map.of(), "demo-", false);
        try (BenchmarkRunner runner = new BenchmarkRunner(config, out, System.err)) {
            return runner.run(prompts);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 500 ? s : s.substring(0, 500) + "...";
    }
}
