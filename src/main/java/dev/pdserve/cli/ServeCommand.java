package dev.pdserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.cluster.ClusterSpec;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.InferenceEngine;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.engine.SpeculativeConfig;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.kv.KvPeerInfo;
import dev.pdserve.kv.KvTransferConfig;
import dev.pdserve.kv.ModelFingerprint;
import dev.pdserve.kv.PdTcpConnector;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelConfig;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.server.ChatTemplating;
import dev.pdserve.server.OpenAiServer;
import dev.pdserve.server.TextCodec;
import dev.pdserve.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;

/**
 * {@code pdserve serve [MODEL_DIR]}: the engine behind the OpenAI API, with vLLM's flags. Flags
 * that only mean something on a GPU are accepted with one log line each, so vLLM command lines
 * run unchanged. SIGTERM drains: running requests finish, new ones get 503, then it exits.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Serve a model over the OpenAI-compatible HTTP API (vLLM's flags).")
final class ServeCommand implements Callable<Integer> {
    private static final Logger LOG = Logger.getLogger("pdserve.serve");
    /** How long SIGTERM waits for running requests before exiting anyway. */
    private static final Duration DRAIN_TIMEOUT = Duration.ofMinutes(5);

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL_DIR",
            description = "Hugging Face model folder (default: the built-in models/deepseek-v3-tiny).")
    Path modelArg;
    @Option(names = "--model", paramLabel = "DIR", description = "Same as MODEL_DIR.") Path modelOption;
    @Option(names = "--host", defaultValue = "0.0.0.0", description = "Address to listen on (default: ${DEFAULT-VALUE}).") String host;
    @Option(names = "--port", defaultValue = "8000", description = "Port (default: ${DEFAULT-VALUE}).") int port;
    @Option(names = "--served-model-name", arity = "1..*", paramLabel = "NAME", description = "Model name in the API (default: MODEL_DIR as given); vLLM takes several, pdserve answers to the first.") List<String> servedModelNames;
    @Option(names = "--tokenizer", paramLabel = "DIR", description = "Folder with tokenizer.json and tokenizer_config.json (default: MODEL_DIR).") Path tokenizerDir;
    @Option(names = "--max-model-len", converter = ByteSize.IntConverter.class, description = "Context length: prompt plus output tokens, e.g. 8192 or 32k (default: the model's; "
            + "longer is refused unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1).") Integer maxModelLen;
    @Option(names = "--max-num-batched-tokens", converter = ByteSize.IntConverter.class, defaultValue = "2048", description = "Token budget of one engine step.") int maxNumBatchedTokens;
    @Option(names = "--max-num-seqs", defaultValue = "256", description = "Most requests running at once.") int maxNumSeqs;
    @Option(names = "--block-size", defaultValue = "16", description = "Tokens per KV cache block.") int blockSize;
    @Option(names = "--seed", defaultValue = "0", description = "Seed for sampling.") long seed;
    @Option(names = "--api-key", description = "Require 'Authorization: Bearer KEY' on /v1 (also $VLLM_API_KEY).") String apiKey;
    @Option(names = "--kv-cache-memory", paramLabel = "SIZE", converter = ByteSize.Converter.class,
            description = "KV cache size, e.g. 2GiB or 512MiB (default: $VLLM_CPU_KVCACHE_SPACE GiB, else 4 GiB, as vLLM's CPU backend).") Long kvCacheMemory;
    @Option(names = "--kv-cache-memory-bytes", paramLabel = "SIZE", converter = ByteSize.Converter.class, description = "vLLM's name for --kv-cache-memory.") Long kvCacheMemoryBytes;
    @Option(names = "--gpu-memory-utilization", description = "Accepted for vLLM compatibility: on a CPU the KV cache has a fixed size (--kv-cache-memory).") Double gpuMemoryUtilization;
    @Option(names = "--enable-prefix-caching", negatable = true, defaultValue = "true", fallbackValue = "true", description = "Reuse cached prompt prefixes (default: on).") boolean enablePrefixCaching;
    @Option(names = "--threads", defaultValue = "0", description = "Kernel worker threads (default: all cores).") int threads;
    @Option(names = {"--quantization", "-q"}, paramLabel = "METHOD", description = "w8a8 (also 'ascend'): int8 weights and activations.") String quantization;
    @Option(names = "--kv-transfer-config", paramLabel = "JSON", description = "vLLM's KV connector config (kv_role, ...), for PD disaggregation.") String kvTransferConfig;
    @Option(names = "--speculative-config", paramLabel = "JSON", description = "vLLM's speculative decoding config: {\"method\":\"ngram\",\"num_speculative_tokens\":4,\"prompt_lookup_max\":4} or {\"method\":\"deepseek_mtp\",\"num_speculative_tokens\":1}.") String speculativeConfig;
    @Option(names = "--cluster", paramLabel = "FILE", description = "cluster.json (pdserve ranktable): with --instance, take this instance's role, ports, kv-transfer-config and threads from it.") Path cluster;
    @Option(names = "--instance", paramLabel = "ID", description = "This instance's id in --cluster, e.g. prefill-0.") String instance;
    @Option(names = "--chat-template", paramLabel = "FILE_OR_TEXT", description = "Chat template to use instead of the model's: a file, or the template itself.") String chatTemplate;
    @Option(names = "--trust-request-chat-template", description = "Let requests bring their own chat_template.") boolean trustRequestChatTemplate;
    @Option(names = "--default-chat-template-kwargs", paramLabel = "JSON", description = "Template variables for every chat request, e.g. '{\"enable_thinking\": false}'; a request's chat_template_kwargs win.") String defaultChatTemplateKwargs;
    @Option(names = {"--tensor-parallel-size", "-tp"}, defaultValue = "1", description = "Accepted for vLLM compatibility; pdserve runs one process.") int tensorParallelSize;
    @Option(names = "--enable-expert-parallel", description = "Accepted for vLLM compatibility.") boolean enableExpertParallel;
    @Option(names = "--trust-remote-code", description = "Accepted for vLLM compatibility: pdserve runs no model code from the checkpoint.") boolean trustRemoteCode;
    @Option(names = "--enforce-eager", description = "Accepted for vLLM compatibility: there are no CUDA graphs on a CPU.") boolean enforceEager;
    @Option(names = "--dtype", description = "Accepted for vLLM compatibility: weights keep their file dtype, math is fp32.") String dtype;
    @Option(names = "--disable-log-requests", description = "Accepted for vLLM compatibility.") boolean disableLogRequests;
    @Option(names = "--disable-log-stats", description = "Accepted for vLLM compatibility.") boolean disableLogStats;
    @Option(names = "--additional-config", paramLabel = "JSON", description = "vLLM's platform options (vllm-ascend's torchair_graph_config, ...): checked as vLLM does, then ignored on a CPU.") String additionalConfig;

    /** The parsed --kv-transfer-config, kept for the KV connector. */
    JsonNode kvTransfer;

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        applyCluster();
        Path modelDir = modelDir();
        String name = servedModelNames != null ? servedModelNames.getFirst()
                : modelArg != null || modelOption != null ? String.valueOf(modelArg != null ? modelArg : modelOption) : modelDir.getFileName().toString();
        String key = apiKey != null ? apiKey : System.getenv("VLLM_API_KEY");
        // Everything that can be refused is refused before the model loads or a port opens.
        List<String> notes = compatibilityNotes();
        kvTransfer = parseKvTransferConfig(kvTransferConfig);
        KvTransferConfig kvConfig = kvTransfer == null ? null : KvTransferConfig.parse(kvTransferConfig);
        SpeculativeConfig speculative = speculativeConfig == null ? null : SpeculativeConfig.parse(speculativeConfig);
        if (speculativeConfig != null && !SpeculativeConfig.ignoredFields(speculativeConfig).isEmpty()) {
            notes.add("--speculative-config: " + SpeculativeConfig.ignoredFields(speculativeConfig) + " accepted and ignored (no separate draft model, one process)");
        }
        ModelConfig modelConfig = ModelConfig.load(modelDir);
        int contextLen = MaxModelLen.resolve(maxModelLen, modelDir, MaxModelLen.allowLong(System.getenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN")), LOG::warning);
        KvPoolSize.Choice pool = KvPoolSize.choose(kvCacheMemory != null ? kvCacheMemory : kvCacheMemoryBytes,
                kvCacheMemory != null ? "--kv-cache-memory" : "--kv-cache-memory-bytes", System.getenv("VLLM_CPU_KVCACHE_SPACE"));
        ListenCheck.checkFree(host, port);
        notes.forEach(LOG::info);

        LOG.info(() -> "loading " + modelDir + " (" + modelConfig.modelType() + ")");
        CausalLM model = ModelLoader.load(modelDir, new LoadOptions(threads, quantization));
        KvPoolSize.checkFits(pool, PagedKvCache.memAvailableBytes());
        LOG.info("KV cache: " + KvPoolSize.gib(pool.bytes()) + " (" + pool.source() + ")");
        EngineConfig config = EngineConfig.defaults(contextLen).withBlockSize(blockSize).withKvCacheBytes(pool.bytes())
                .withMaxNumSeqs(maxNumSeqs).withMaxNumBatchedTokens(maxNumBatchedTokens).withPrefixCaching(enablePrefixCaching).withSeed(seed)
                .withSpeculative(speculative);
        Tokenizer tokenizer = Tokenizer.load(tokenizerDir != null ? tokenizerDir.toAbsolutePath().normalize() : modelDir);
        AtomicReference<PdTcpConnector> connector = new AtomicReference<>();
        InferenceEngine engine = kvConfig == null ? new Engine(model, tokenizer, config) : new Engine(model, tokenizer, config, cache -> {
            KvPeerInfo me = KvPeerInfo.of(kvConfig.engineId(), model, blockSize, ModelFingerprint.of(modelDir));
            connector.set(new PdTcpConnector(kvConfig, me, cache, host));
            return connector.get();
        });
        OpenAiServer server;
        try {
            server = new OpenAiServer(engine, TextCodec.of(tokenizer),
                    new OpenAiServer.Options(host, port, name, key, HttpEdge.MAX_BODY_BYTES, version(),
                            ChatTemplating.fromFlags(chatTemplate, trustRequestChatTemplate, defaultChatTemplateKwargs))).start();
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
        if (server.port() < 0) { // taken between the check and the bind
            server.close();
            engine.close();
            throw ListenCheck.inUse(host, port);
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // JUL may already be shut down in a shutdown hook: write to stderr directly.
            System.err.println("pdserve: shutting down, draining running requests (new ones get 503) ...");
            server.drain(DRAIN_TIMEOUT);
            awaitLeases(engine); // a prefill instance's answered requests are still in flight until decode pulls their KV
            server.close();
            engine.close();
            model.close();
            tokenizer.close();
            System.err.println("pdserve: drained, bye");
            stopped.countDown();
        }, "pdserve-drain"));
        System.out.println("INFO:     pdserve serving '" + name + "' on http://" + host + ":" + server.port()
                + " (max_model_len " + contextLen + ")");
        if (connector.get() != null) {
            System.out.println("INFO:     KV transfer: " + kvConfig.role().wire()
                    + (connector.get().producerPort() > 0 ? " serving KV on port " + connector.get().producerPort() : " pulling KV from prefill instances"));
        }
        System.out.println("INFO:     Application startup complete.");
        System.out.flush();
        stopped.await();
        return 0;
    }

    /** Waits (at most a lease's life, 30 s by default) until no KV block is held for a decode instance to pull. */
    private static void awaitLeases(InferenceEngine engine) {
        long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
        while (engine.kvStats() != null && engine.kvStats().blocksLeased() > 0 && System.nanoTime() - deadline < 0) { // null: no connector
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * --cluster/--instance: the instance's ports, KV config, threads and (when MODEL_DIR is not
     * given) model come from cluster.json; flags given on the command line still win. The
     * instance's core_set is for the launcher (taskset); here it is only logged.
     */
    void applyCluster() {
        if (cluster == null && instance == null) return;
        if (cluster == null || instance == null) throw new IllegalArgumentException("--cluster and --instance go together");
        ClusterSpec spec = ClusterSpec.load(cluster);
        ClusterSpec.Instance me = spec.instance(instance);
        if (!given("--port")) port = me.httpPort();
        if (kvTransferConfig == null) kvTransferConfig = spec.kvTransferConfigJson(instance);
        if (!given("--threads") && me.threads().isPresent()) threads = me.threads().getAsInt();
        if (modelArg == null && modelOption == null && spec.model().isPresent()) modelOption = Path.of(spec.model().get());
        me.coreSet().ifPresent(cores -> LOG.info("cluster instance " + instance + " is meant for cores " + cores + " (pin with taskset -c " + cores + ")"));
        LOG.info("cluster instance " + instance + ": " + me.role() + ", http port " + port + ", kv " + me.kvAddress());
    }

    private boolean given(String option) {
        return spec != null && spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** MODEL_DIR, else the built-in model under $PDSERVE_HOME (the launcher sets it), else the current folder. */
    Path modelDir() {
        Path p = modelArg != null ? modelArg : modelOption;
        return (p != null ? p : Defaults.builtInModel()).toAbsolutePath().normalize();
    }

    /**
     * One line per vLLM flag pdserve takes but does differently; throws for a value it cannot honour
     * (see {@link VllmFlags}).
     */
    List<String> compatibilityNotes() {
        List<String> notes = new ArrayList<>();
        if (spec != null && spec.commandLine().getParseResult() != null) notes.addAll(VllmFlags.check(spec.commandLine().getParseResult()));
        if (tensorParallelSize != 1) notes.add("--tensor-parallel-size " + tensorParallelSize + ": pdserve runs the model in one process; its kernels use --threads cores");
        if (enableExpertParallel) notes.add("--enable-expert-parallel: experts run in one process here; accepted and ignored");
        if (trustRemoteCode) notes.add("--trust-remote-code: pdserve runs no code from checkpoints; accepted and ignored");
        if (enforceEager) notes.add("--enforce-eager: there are no CUDA graphs on a CPU; accepted and ignored");
        if (dtype != null) notes.add("--dtype " + dtype + ": weights keep their file dtype and math runs in fp32; accepted and ignored");
        if (disableLogRequests) notes.add("--disable-log-requests: pdserve does not log requests; accepted");
        if (disableLogStats) notes.add("--disable-log-stats: accepted; /metrics has the stats");
        if (gpuMemoryUtilization != null) notes.add("--gpu-memory-utilization " + gpuMemoryUtilization
                + ": on a CPU the KV cache has a fixed size (--kv-cache-memory, else VLLM_CPU_KVCACHE_SPACE, else 4 GiB), as in vLLM's CPU backend; accepted");
        if (servedModelNames != null && servedModelNames.size() > 1) notes.add("--served-model-name " + String.join(" ", servedModelNames)
                + ": pdserve answers to the first name, " + servedModelNames.getFirst());
        if (additionalConfig != null) notes.add(AdditionalConfig.check(additionalConfig));
        return notes;
    }

    static JsonNode parseKvTransferConfig(String json) {
        if (json == null) return null;
        JsonNode node;
        try {
            node = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("--kv-transfer-config is not valid JSON: " + e.getMessage());
        }
        if (node == null || !node.isObject()) throw new IllegalArgumentException("--kv-transfer-config must be a JSON object");
        LOG.info("--kv-transfer-config: kv_role=" + node.path("kv_role").asText("?") + ", kv_connector="
                + node.path("kv_connector").asText("?"));
        return node;
    }

    private static String version() {
        String v = ServeCommand.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
