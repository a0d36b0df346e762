package dev.pdserve.bench;

import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.LockSupport;

/**
 * Replays a workload against one OpenAI-compatible server the way {@code vllm bench serve} does: optional
 * warmups, then requests released on the {@link ArrivalSchedule}, each on its own virtual thread, at most
 * {@code maxConcurrency} in flight (the rest wait on a semaphore, which counts as client queue time).
 * Returns every request's output, failures included; printing and saving are the {@link Report}'s job.
 */
public final class BenchmarkRunner implements AutoCloseable {
    private final BenchmarkConfig config;
    private final HttpClient http;
    private final PrintStream log;
    private final PrintStream progressOut;
    private static final int READY_RETRY_SECONDS = 5;
    private String model;

    public BenchmarkRunner(BenchmarkConfig config, PrintStream log, PrintStream progressOut) {
        this.config = config;
        this.log = log;
        this.progressOut = progressOut;
        // HTTP/1.1 like vLLM's aiohttp client: SSE servers (uvicorn, Helidon) all speak it, not all do h2c.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(30))
                .executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    }

    /** The model this run will send: --model, or the first one the server lists (asked once). */
    public String resolveModel() {
        if (model != null) return model;
        if (config.model() != null) return model = config.model();
        log.println("Model not specified, fetching first model from server...");
        model = OpenAiStreamClient.firstModel(http, config.baseUrl(), config.headers());
        log.println("First model name: " + model);
        return model;
    }

    /**
     * vLLM's initial single prompt test run: with {@code timeoutSec > 0} the first prompt is sent, again every
     * {@value #READY_RETRY_SECONDS} s until it succeeds; it throws when it never does. With 0 (vLLM's
     * default) nothing is sent. Call it before {@link #run}.
     */
    public void readyCheck(SampleRequest first, int timeoutSec) {
        log.println("Starting initial single prompt test run...");
        if (timeoutSec <= 0) {
            log.println("Skipping endpoint ready check.");
            return;
        }
        log.println("Waiting for endpoint to become up in " + timeoutSec + " seconds");
        long deadline = System.nanoTime() + timeoutSec * 1_000_000_000L;
        OpenAiStreamClient client = client();
        RequestResult o;
        while (true) {
            o = client.send(first, null, System.nanoTime());
            long left = deadline - System.nanoTime();
            if (o.success() || left <= 0) break;
            LockSupport.parkNanos(Math.min(left, READY_RETRY_SECONDS * 1_000_000_000L));
        }
        if (!o.success()) {
            throw new IllegalStateException("Initial test run failed - Please make sure benchmark arguments are correctly specified. Error: " + o.error());
        }
        log.println("Initial test run completed.");
    }

    /** vLLM's re-alignment of random prompts to the server's tokenizer ({@link PromptAlignment}). */
    public List<SampleRequest> alignToServerTokenizer(List<SampleRequest> requests) {
        return new PromptAlignment(http, config.baseUrl(), resolveModel(), config.headers()).align(requests, log);
    }

    private OpenAiStreamClient client() {
        return new OpenAiStreamClient(http, config.backend(), URI.create(config.apiUrl()), resolveModel(),
                config.headers(), config.extraBody(), config.ignoreEos());
    }

    public BenchmarkResult run(List<SampleRequest> requests) {
        if (requests.isEmpty()) throw new IllegalArgumentException("no requests to send");
        String model = resolveModel();
        OpenAiStreamClient client = client();
        Semaphore limit = new Semaphore(config.maxConcurrency() == null ? Integer.MAX_VALUE : config.maxConcurrency());

        if (config.numWarmups() > 0) {
            log.println("Warming up with " + config.numWarmups() + " requests...");
            long t0 = System.nanoTime();
            double[] allAtOnce = new double[config.numWarmups()];
            dispatch(client, limit, java.util.Collections.nCopies(config.numWarmups(), requests.getFirst()), allAtOnce, t0, null, "warmup-");
            log.println("Warmup run completed.");
        }

        log.println("Starting main benchmark run...");
        log.println("Traffic request rate: " + (Double.isInfinite(config.requestRate()) ? "inf" : config.requestRate()));
        log.println("Burstiness factor: " + config.burstiness() + " (" + (config.burstiness() == 1.0 ? "Poisson process" : "Gamma distribution") + ")");
        log.println("Maximum request concurrency: " + (config.maxConcurrency() == null ? "None" : config.maxConcurrency()));
        double[] offsets = ArrivalSchedule.offsets(requests.size(), config.requestRate(), config.burstiness(), config.seed());
        ProgressBar bar = config.showProgress() ? new ProgressBar(progressOut, requests.size()) : null;
        long start = System.nanoTime();
        List<RequestResult> outputs = dispatch(client, limit, requests, offsets, start, bar, config.requestIdPrefix());
        double duration = (System.nanoTime() - start) / 1e9;
        if (bar != null) bar.close();

        BenchmarkMetrics metrics = BenchmarkMetrics.compute(outputs, duration, config.percentiles(), config.goodput());
        return new BenchmarkResult(config.withModel(model), model, LocalDateTime.now(), requests.size(), duration, outputs, metrics);
    }

    /** Sends request i at start + offsets[i] (seconds) and waits for all; outputs keep the workload's order. */
    private List<RequestResult> dispatch(OpenAiStreamClient client, Semaphore limit, List<SampleRequest> requests,
                                         double[] offsets, long start, ProgressBar bar, String idPrefix) {
        List<Future<RequestResult>> futures = new ArrayList<>(requests.size());
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < requests.size(); i++) {
                sleepUntil(start + (long) (offsets[i] * 1e9));
                SampleRequest req = requests.get(i);
                String id = idPrefix + i;
                double arrival = offsets[i]; // the scheduled arrival: queue time counts from it
                // Waiting for a slot here, not in the task, keeps requests in arrival order (FIFO, as
                // vLLM's asyncio client does); virtual threads would otherwise race for the semaphore.
                limit.acquireUninterruptibly();
                futures.add(threads.submit(() -> {
                    try {
                        RequestResult o = client.send(req, id, start);
                        return o.withQueueTime(o.startTime() - arrival);
                    } catch (RuntimeException e) { // a client bug must still count as a failed request
                        double now = (System.nanoTime() - start) / 1e9;
                        return RequestResult.failure("client error: " + e, now, 0, req.promptLen(), 0);
                    } finally {
                        limit.release();
                        if (bar != null) bar.step();
                    }
                }));
            }
        } // close() waits for every request to finish
        List<RequestResult> outputs = new ArrayList<>(futures.size());
        for (Future<RequestResult> f : futures) outputs.add(f.resultNow());
        return outputs;
    }

    private static void sleepUntil(long deadlineNanos) {
        long left;
        while ((left = deadlineNanos - System.nanoTime()) > 0) LockSupport.parkNanos(left);
    }

    /** Closes the HTTP client (its connections and selector thread). */
    @Override
    public void close() {
        http.close();
    }
}
