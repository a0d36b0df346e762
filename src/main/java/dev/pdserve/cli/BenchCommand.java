package dev.pdserve.cli;

import dev.pdserve.bench.Backend;
import dev.pdserve.bench.BenchmarkConfig;
import dev.pdserve.bench.BenchmarkResult;
import dev.pdserve.bench.BenchmarkRunner;
import dev.pdserve.bench.CustomDataset;
import dev.pdserve.bench.Goodput;
import dev.pdserve.bench.HfPromptTokenizer;
import dev.pdserve.bench.LatencyPlot;
import dev.pdserve.bench.MultiTurnDataset;
import dev.pdserve.bench.RandomDataset;
import dev.pdserve.bench.Report;
import dev.pdserve.bench.ResultJson;
import dev.pdserve.bench.SampleRequest;
import dev.pdserve.bench.ShareGptDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;

/** {@code pdserve bench serve ...}: vLLM's {@code vllm bench serve}, same flags, same report, same JSON. */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = {BenchCommand.Serve.class, BenchCompareCommand.class},
        description = "Benchmark tools (see `pdserve bench serve --help`, `pdserve bench compare --help`).")
final class BenchCommand implements Runnable {
    @Override
    public void run() {
        picocli.CommandLine.usage(this, System.out);
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Benchmark an OpenAI-compatible server (pdserve, its PD proxy, vLLM...) over HTTP, like `vllm bench serve`.")
    static final class Serve implements Callable<Integer> {
        @Option(names = "--backend", defaultValue = "openai", description = "openai, openai-chat or vllm (default: ${DEFAULT-VALUE}).")
        String backend;
        @Option(names = "--base-url", description = "Server base URL, e.g. http://10.0.0.5:8000 (instead of --host/--port).")
        String baseUrl;
        @Option(names = "--host", defaultValue = "127.0.0.1") String host;
        @Option(names = "--port", defaultValue = "8000") int port;
        @Option(names = "--endpoint", description = "API path (default: /v1/completions, /v1/chat/completions for openai-chat).")
        String endpoint;
        @Option(names = "--model", description = "Model name to request (default: the first one GET /v1/models lists).")
        String model;
        @Option(names = "--served-model-name", description = "Name sent in requests when it differs from --model.")
        String servedModelName;
        @Option(names = "--tokenizer", description = "Hugging Face tokenizer folder (default: the built-in models/deepseek-v3-tiny).")
        Path tokenizer;
        @Option(names = "--label", description = "Result label (default: the backend).") String label;

        @Option(names = "--dataset-name", defaultValue = "random", description = "random, sharegpt, custom or multi-turn (default: ${DEFAULT-VALUE}).")
        String datasetName;
        @Option(names = "--multi-turn-turns", defaultValue = "4", description = "multi-turn: turns per conversation (default: ${DEFAULT-VALUE}).") int multiTurnTurns;
        @Option(names = "--multi-turn-system-prompt-len", defaultValue = "512", description = "multi-turn: tokens of the system prompt all conversations share (default: ${DEFAULT-VALUE}).") int multiTurnSystemPromptLen;
        @Option(names = "--multi-turn-user-len", defaultValue = "64", description = "multi-turn: tokens of each user message (default: ${DEFAULT-VALUE}); answers in the history are --output-len tokens.") int multiTurnUserLen;
        @Option(names = "--dataset-path", description = "ShareGPT JSON file or custom JSONL ({\"prompt\":...,\"output_tokens\":N} per line).")
        Path datasetPath;
        @Option(names = "--num-prompts", defaultValue = "1000") int numPrompts;
        @Option(names = "--input-len", description = "Shorthand for --random-input-len.") Integer inputLen;
        @Option(names = "--output-len", description = "Shorthand for --random-output-len / --sharegpt-output-len / --custom-output-len.")
        Integer outputLen;
        @Option(names = "--random-input-len", defaultValue = "1024") int randomInputLen;
        @Option(names = "--random-output-len", defaultValue = "128") int randomOutputLen;
        @Option(names = "--random-range-ratio", defaultValue = "0.0") double randomRangeRatio;
        @Option(names = "--random-prefix-len", defaultValue = "0") int randomPrefixLen;
        @Option(names = "--sharegpt-output-len") Integer sharegptOutputLen;
        @Option(names = "--custom-output-len", defaultValue = "256") int customOutputLen;

        @Option(names = "--request-rate", defaultValue = "inf", description = "Requests per second, or inf to send all at once (default: ${DEFAULT-VALUE}).")
        String requestRate;
        @Option(names = "--burstiness", defaultValue = "1.0", description = "Gamma shape of the arrival gaps: 1 = Poisson, <1 burstier, >1 more regular.")
        double burstiness;
        @Option(names = "--max-concurrency", description = "At most this many requests in flight.") Integer maxConcurrency;
        @Option(names = "--ignore-eos", description = "Send ignore_eos (always on for --dataset-name random, as in vLLM).") boolean ignoreEos;
        @Option(names = "--num-warmups", defaultValue = "0") int numWarmups;
        @Option(names = "--seed", defaultValue = "0") long seed;
        @Option(names = "--temperature") Double temperature;
        @Option(names = "--top-p") Double topP;
        @Option(names = "--top-k") Integer topK;
        @Option(names = "--min-p") Double minP;
        @Option(names = "--frequency-penalty") Double frequencyPenalty;
        @Option(names = "--presence-penalty") Double presencePenalty;
        @Option(names = "--repetition-penalty") Double repetitionPenalty;
        @Option(names = "--extra-body", description = "JSON object merged into every request body, e.g. '{\"seed\": 1}'.")
        String extraBody;
        @Option(names = "--ready-check-timeout-sec", defaultValue = "600",
                description = "Send the first prompt before the run, retrying for up to this many seconds until it succeeds, as benchmark_serving.py's initial test run (default: ${DEFAULT-VALUE}; 0 skips it, current vllm bench serve's default).")
        int readyCheckTimeoutSec;
        @Option(names = "--header", arity = "1..*", description = "KEY=VALUE headers sent with every request.") List<String> header;
        @Option(names = "--request-id-prefix", description = "Prefix of the x-request-id header (default: bench-<random>-).")
        String requestIdPrefix;

        @Option(names = "--percentile-metrics", defaultValue = "ttft,tpot,itl", description = "Metrics to report: ttft,tpot,itl,e2el (default: ${DEFAULT-VALUE}).")
        String percentileMetrics;
        @Option(names = "--metric-percentiles", defaultValue = "99", description = "Percentiles to report, e.g. 50,90,99 (default: ${DEFAULT-VALUE}).")
        String metricPercentiles;
        @Option(names = "--goodput", arity = "1..*", description = "SLOs in ms, e.g. ttft:500 tpot:50 e2el:2000.") List<String> goodput;
        @Option(names = "--save-result", description = "Write the vLLM-style result JSON.") boolean saveResult;
        @Option(names = "--save-detailed", description = "Also save per-request data (input_lens, ttfts, itls, texts, errors, pdserve's per-request records).")
        boolean saveDetailed;
        @Option(names = "--result-dir") Path resultDir;
        @Option(names = "--result-filename") String resultFilename;
        @Option(names = "--plot", description = "Write latency CDFs and throughput over time to this PNG.") Path plot;
        @Option(names = "--disable-tqdm", description = "No progress bar.") boolean disableTqdm;

        @Override
        public Integer call() {
            PrintStream out = System.out;
            Backend be = Backend.parse(backend);
            double rate = parseRate(requestRate);
            if (!List.of("random", "sharegpt", "custom", "multi-turn").contains(datasetName)) {
                throw new IllegalArgumentException("unknown --dataset-name '" + datasetName + "' (use random, sharegpt, custom or multi-turn)");
            }
            boolean generated = datasetName.equals("random") || datasetName.equals("multi-turn");
            if (generated && datasetPath != null) {
                throw new IllegalArgumentException("--dataset-path cannot be used with --dataset-name " + datasetName);
            }
            if (!generated && datasetPath == null) {
                throw new IllegalArgumentException("--dataset-name " + datasetName + " needs --dataset-path");
            }
            if (numPrompts < 1) throw new IllegalArgumentException("--num-prompts must be >= 1");
            if (inputLen != null) randomInputLen = inputLen;
            if (outputLen != null) {
                randomOutputLen = outputLen;
                sharegptOutputLen = outputLen;
                customOutputLen = outputLen;
            }
            // As vLLM: random prompts should run to the requested length, not stop at an EOS.
            boolean eos = ignoreEos || generated;

            Path tokDir = tokenizer != null ? tokenizer : Defaults.builtInModel();
            Map<String, Object> body = new LinkedHashMap<>();
            if (topP != null) body.put("top_p", topP);
            if (topK != null) body.put("top_k", topK);
            if (minP != null) body.put("min_p", minP);
            if (temperature != null) body.put("temperature", temperature);
            if (frequencyPenalty != null) body.put("frequency_penalty", frequencyPenalty);
            if (presencePenalty != null) body.put("presence_penalty", presencePenalty);
            if (repetitionPenalty != null) body.put("repetition_penalty", repetitionPenalty);
            if (extraBody != null) body.putAll(parseExtraBody(extraBody));
            String base = baseUrl != null ? baseUrl : "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
            BenchmarkConfig config = new BenchmarkConfig(label, be, base, endpoint,
                    servedModelName != null ? servedModelName : model, tokDir.toString(), rate, burstiness,
                    maxConcurrency, eos, numWarmups, seed, Arrays.asList(percentileMetrics.split(",")),
                    parsePercentiles(metricPercentiles), Goodput.parse(goodput), headers(header), body,
                    requestIdPrefix != null ? requestIdPrefix : "bench-" + UUID.randomUUID().toString().substring(0, 8) + "-",
                    !disableTqdm && System.console() != null && System.console().isTerminal());

            BenchmarkResult result;
            try (var runner = new BenchmarkRunner(config, out, System.err)) {
                runner.resolveModel(); // as vLLM: the model before the tokenizer and the dataset
                List<SampleRequest> requests;
                try (HfPromptTokenizer tok = HfPromptTokenizer.load(tokDir)) {
                    requests = switch (datasetName) {
                        case "random" -> RandomDataset.sample(tok, numPrompts, randomInputLen, randomOutputLen,
                                randomRangeRatio, randomPrefixLen, seed);
                        case "multi-turn" -> MultiTurnDataset.sample(tok, numPrompts, multiTurnTurns, multiTurnSystemPromptLen,
                                multiTurnUserLen, randomOutputLen, seed);
                        case "sharegpt" -> ShareGptDataset.sample(datasetPath, tok, numPrompts, sharegptOutputLen, seed);
                        default -> CustomDataset.sample(datasetPath, tok, numPrompts, customOutputLen);
                    };
                }
                requests = SampleRequest.oversample(requests, numPrompts, seed);
                if (datasetName.equals("random")) requests = runner.alignToServerTokenizer(requests);
                if (!body.containsKey("temperature")) {
                    out.println("WARNING: vllm bench serve no longer sets temperature==0 (greedy) in requests by default. The default will be "
                            + "determined on the server side and can be model/API specific. For the old behavior, include --temperature=0.");
                }
                runner.readyCheck(requests.getFirst(), readyCheckTimeoutSec);
                result = runner.run(requests);
            }
            Report.summary(result, out);
            if (saveResult || resultFilename != null) {
                out.println("Result saved to " + ResultJson.write(result, resultDir, resultFilename, saveDetailed));
            }
            if (plot != null) out.println("Plot saved to " + LatencyPlot.write(List.of(result), plot));
            return 0;
        }

        static double parseRate(String s) {
            if (s.equalsIgnoreCase("inf")) return Double.POSITIVE_INFINITY;
            try {
                double r = Double.parseDouble(s);
                if (r > 0) return r;
            } catch (NumberFormatException ignored) {
                // fall through to the message
            }
            throw new IllegalArgumentException("--request-rate must be a positive number or inf, got '" + s + "'");
        }

        static double[] parsePercentiles(String csv) {
            double[] ps = Arrays.stream(csv.split(",")).map(String::strip).filter(x -> !x.isEmpty()).mapToDouble(x -> {
                try {
                    return Double.parseDouble(x);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("invalid --metric-percentiles value '" + x + "'");
                }
            }).toArray();
            for (double p : ps) if (p < 0 || p > 100) throw new IllegalArgumentException("--metric-percentiles must be in [0, 100]");
            return ps;
        }

        static Map<String, Object> parseExtraBody(String json) {
            try {
                var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
                if (!node.isObject()) throw new IllegalArgumentException("--extra-body must be a JSON object, got " + json);
                Map<String, Object> out = new LinkedHashMap<>();
                node.properties().forEach(e -> out.put(e.getKey(), e.getValue()));
                return out;
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException("--extra-body is not JSON: " + e.getOriginalMessage());
            }
        }

        static Map<String, String> headers(List<String> items) {
            Map<String, String> h = new LinkedHashMap<>();
            if (items == null) return h;
            for (String item : items) {
                int eq = item.indexOf('=');
                if (eq <= 0) throw new IllegalArgumentException("invalid --header '" + item + "': use KEY=VALUE");
                h.put(item.substring(0, eq).strip(), item.substring(eq + 1).strip());
            }
            return h;
        }
    }
}
