package dev.pdserve.cli;

import dev.pdserve.bench.Backend;
import dev.pdserve.bench.BenchmarkConfig;
import dev.pdserve.bench.BenchmarkResult;
import dev.pdserve.bench.CompareWorkload;
import dev.pdserve.bench.Goodput;
import dev.pdserve.bench.HfPromptTokenizer;
import dev.pdserve.bench.LatencyPlot;
import dev.pdserve.bench.RandomDataset;
import dev.pdserve.bench.Report;
import dev.pdserve.bench.ResultJson;
import dev.pdserve.bench.SampleRequest;
import dev.pdserve.launch.Comparison;
import dev.pdserve.launch.JavaCommand;
import dev.pdserve.launch.LaunchException;
import dev.pdserve.launch.LocalDeployment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code pdserve bench compare}: one workload on a colocated instance and on prefill + decode + proxy with the
 * same cores, started here on loopback, side by side in one table and one plot.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the same workload on a colocated instance and on prefill + decode + proxy with the same total cores, "
                + "started on 127.0.0.1, and compare them in one table (and one plot with --plot).")
final class BenchCompareCommand implements Callable<Integer> {
    static final String MODEL_NAME = "pdserve-compare";

    @Option(names = "--model", paramLabel = "DIR", description = "Model folder (default: the built-in models/deepseek-v3-tiny).")
    Path model;
    @Option(names = "--workload", defaultValue = "mixed", description = "mixed: short-prompt/long-output requests with long-prompt/short-output ones arriving among them; "
            + "random: --random-input-len/--random-output-len only (default: ${DEFAULT-VALUE}).")
    String workload;
    @Option(names = "--num-prompts", defaultValue = "40") int numPrompts;
    @Option(names = {"--random-input-len", "--input-len"}, defaultValue = "32", description = "Prompt tokens (of the short requests for mixed).") int inputLen;
    @Option(names = {"--random-output-len", "--output-len"}, defaultValue = "128", description = "Output tokens (of the short requests for mixed).") int outputLen;
    @Option(names = "--long-input-len", defaultValue = "768", description = "mixed: prompt tokens of the long requests.") int longInputLen;
    @Option(names = "--long-output-len", defaultValue = "4", description = "mixed: output tokens of the long requests.") int longOutputLen;
    @Option(names = "--long-fraction", defaultValue = "0.3", description = "mixed: share of long requests.") double longFraction;
    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--request-rate", defaultValue = "2", description = "Requests per second, or inf (default: ${DEFAULT-VALUE}).") String requestRate;
    @Option(names = "--burstiness", defaultValue = "1.0") double burstiness;
    @Option(names = "--max-concurrency", defaultValue = "8") Integer maxConcurrency;
    @Option(names = "--num-warmups", defaultValue = "2") int numWarmups;
    @Option(names = "--percentile-metrics", defaultValue = "ttft,tpot,itl,e2el") String percentileMetrics;
    @Option(names = "--metric-percentiles", defaultValue = "50,99") String metricPercentiles;
    @Option(names = "--goodput", arity = "1..*", description = "SLOs in ms, e.g. ttft:500 tpot:50.") List<String> goodput;
    @Option(names = "--cores", description = "Total cores of each side (default: 2): colocated gets all, prefill and decode half each.") Integer cores;
    @Option(names = "--pin", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Pin each instance to its cores with taskset (default: on when taskset exists).") boolean pin;
    @Option(names = "--kv-cache-memory", defaultValue = "256MiB", converter = ByteSize.Converter.class,
            description = "KV cache of each instance (default: ${DEFAULT-VALUE}).") long kvCacheMemory;
    @Option(names = "--log-dir", paramLabel = "DIR", description = "Where the processes' logs go (default: a new folder under the temp dir).") Path logDir;
    @Option(names = "--save-result", description = "Write one vLLM-style result JSON per side.") boolean saveResult;
    @Option(names = "--result-dir") Path resultDir;
    @Option(names = "--plot", paramLabel = "FILE.png", description = "Both sides' latency CDFs and throughput in one PNG.") Path plot;

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out;
        Path modelDir = (model != null ? model : Defaults.builtInModel()).toAbsolutePath().normalize();
        if (!Files.isRegularFile(modelDir.resolve("config.json"))) throw new IllegalArgumentException("no model (config.json) in " + modelDir);
        // Flags that do not depend on this machine first, so their errors read the same everywhere.
        List<SampleRequest> requests = workload(modelDir);
        double rate = BenchCommand.Serve.parseRate(requestRate);
        int n = cores != null ? cores : 2;
        boolean pinning = pin && JavaCommand.taskset() != null;
        if (pin && !pinning) out.println("taskset not found: instances get --threads only, not pinned to cores");
        if (pinning && n > Runtime.getRuntime().availableProcessors()) {
            throw new IllegalArgumentException("--cores " + n + " but this process may use only " + Runtime.getRuntime().availableProcessors()
                    + " cores (use --cores " + Runtime.getRuntime().availableProcessors() + ", or --no-pin)");
        }
        List<Comparison.Setup> setups = Comparison.sameCores(n, pinning);

        BenchmarkConfig config = new BenchmarkConfig(null, Backend.OPENAI, "http://127.0.0.1", null, MODEL_NAME, modelDir.toString(),
                rate, burstiness, maxConcurrency, true, numWarmups, seed,
                Arrays.asList(percentileMetrics.split(",")), BenchCommand.Serve.parsePercentiles(metricPercentiles),
                Goodput.parse(goodput), Map.of(), Map.of(), "compare-", false);
        Path logs = logDir != null ? logDir : Files.createTempDirectory("pdserve-compare-");
        out.println("logs in " + logs.toAbsolutePath());
        var options = new LocalDeployment.Options(modelDir, MODEL_NAME, logs.toAbsolutePath(),
                List.of("--kv-cache-memory", Long.toString(kvCacheMemory)), Duration.ofSeconds(120), Duration.ofSeconds(30));
        List<BenchmarkResult> results;
        try {
            results = Comparison.run(setups, options, config, requests, out);
        } catch (LaunchException e) {
            out.flush();
            System.err.println("bench compare failed: " + e.getMessage());
            return 1;
        }
        out.println();
        out.println(describe(requests));
        Report.compare(results, out);
        for (BenchmarkResult r : results) {
            if (r.metrics().failed() == 0) continue;
            out.println(r.label() + ":");
            Report.failures(r, out);
        }
        if (saveResult) for (BenchmarkResult r : results) out.println("Result saved to " + ResultJson.write(r, resultDir, null));
        if (plot != null) out.println("Plot saved to " + LatencyPlot.write(results, plot));
        return results.stream().allMatch(r -> r.metrics().failed() == 0) ? 0 : 1;
    }

    private List<SampleRequest> workload(Path modelDir) {
        try (HfPromptTokenizer tok = HfPromptTokenizer.load(modelDir)) {
            return switch (workload) {
                case "mixed" -> CompareWorkload.mixed(tok, numPrompts, inputLen, outputLen, longInputLen, longOutputLen, longFraction, seed);
                case "random" -> RandomDataset.sample(tok, numPrompts, inputLen, outputLen, 0.0, 0, seed);
                default -> throw new IllegalArgumentException("unknown --workload '" + workload + "' (use mixed or random)");
            };
        }
    }

    private String describe(List<SampleRequest> requests) {
        String shape = inputLen + " in / " + outputLen + " out";
        if (workload.equals("mixed")) {
            long longOnes = requests.stream().filter(r -> r.promptLen() > (inputLen + longInputLen) / 2).count();
            shape = (requests.size() - longOnes) + " x " + shape + ", " + longOnes + " x " + longInputLen + " in / " + longOutputLen + " out";
        }
        return "Workload " + workload + ": " + requests.size() + " requests (" + shape + "), request rate " + requestRate
                + ", max concurrency " + maxConcurrency;
    }
}
