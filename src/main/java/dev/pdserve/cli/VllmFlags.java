package dev.pdserve.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Every other flag of vLLM's {@code vllm serve} (vllm/engine/arg_utils.py and
 * vllm/entrypoints/openai/cli_args.py), so a vLLM command line runs unchanged. Each one given is
 * logged in one line saying what pdserve does instead; a value pdserve cannot honour safely (several
 * data-parallel engines, TLS, a Unix socket, Python plugins) is refused with a message that says so.
 * A flag {@link ServeCommand} declares itself (because it honours it) is not added here.
 */
final class VllmFlags {
    enum Kind { SWITCH, INT, NUMBER, TEXT, TEXTS, OPTIONAL_TEXT }

    /** One vLLM flag: its names, how its value is read, what pdserve does instead, and when a value is refused (null: never). */
    record Flag(List<String> names, Kind kind, String instead, Function<Object, String> refusal) {
        String name() { return names.getFirst(); }
    }

    private static Flag f(String name, Kind kind, String instead) {
        return new Flag(List.of(name.split(" ")), kind, instead, null);
    }

    private static Flag refuseIf(String name, Kind kind, String instead, Function<Object, String> refusal) {
        return new Flag(List.of(name.split(" ")), kind, instead, refusal);
    }

    private static final String ONE_PROCESS = "pdserve runs the whole model in this one process; its kernels use --threads cores";
    private static final String NO_GRAPHS = "there are no CUDA graphs or torch.compile on a CPU: pdserve runs its own Java kernels eagerly";
    private static final String NO_MULTIMODAL = "pdserve serves text-only models; requests with images, audio or video are refused";
    private static final String NO_LORA = "pdserve serves no LoRA adapters; requests for an adapter name get 404";
    private static final String LOCAL_FILES = "pdserve loads the local model folder as it is, without the Hugging Face hub";
    private static final String LOGGING = "pdserve logs with java.util.logging (startup, warnings, errors), not per request; /metrics has the stats";
    private static final String STRUCTURED = "pdserve compiles structured outputs with its own automaton (dev.pdserve.structured)";
    private static final String SCHEDULER = "pdserve's scheduler is vLLM v1's token budget: chunked prefill always on, first come first served";
    private static final String NO_CORS = "pdserve sends no CORS headers; put a reverse proxy in front for browsers";
    private static final String DP_INSTEAD = "start one `pdserve serve` per replica and put `pdserve proxy` in front of them";

    private static Function<Object, String> above(int max, String why) {
        return v -> v instanceof Integer i && i > max ? why : null;
    }

    private static Function<Object, String> given(String why) {
        return v -> v == null || Boolean.FALSE.equals(v) ? null : why;
    }

    private static Function<Object, String> unless(String why, String... allowed) {
        return v -> v == null || List.of(allowed).contains(String.valueOf(v)) ? null : why;
    }

    static final List<Flag> FLAGS = List.of(
            // Frontend (FrontendArgs) and the serve command itself
            refuseIf("--headless", Kind.SWITCH, "", given("pdserve has no headless engine: every instance serves HTTP")),
            refuseIf("--api-server-count -asc", Kind.INT, "one HTTP server on virtual threads takes every request in this process",
                    v -> v instanceof Integer i && i < 1 ? "--api-server-count " + i + " means headless, which pdserve does not have" : null),
            refuseIf("--config", Kind.TEXT, "", given("pdserve reads no YAML config file: pass its options as flags")),
            refuseIf("--uds", Kind.TEXT, "", given("pdserve listens on TCP only: use --host and --port")),
            f("--uvicorn-log-level", Kind.TEXT, "there is no uvicorn: pdserve's HTTP server is Helidon and logs through java.util.logging"),
            f("--disable-uvicorn-access-log", Kind.SWITCH, "pdserve writes no access log"),
            f("--allow-credentials", Kind.SWITCH, NO_CORS),
            f("--allowed-origins", Kind.TEXT, NO_CORS),
            f("--allowed-methods", Kind.TEXT, NO_CORS),
            f("--allowed-headers", Kind.TEXT, NO_CORS),
            refuseIf("--lora-modules", Kind.TEXTS, "", given(NO_LORA)),
            f("--chat-template-content-format", Kind.TEXT, "pdserve passes message content to the template as a string (text parts joined)"),
            f("--response-role", Kind.TEXT, "chat answers have role 'assistant'"),
            refuseIf("--ssl-keyfile", Kind.TEXT, "", given("pdserve serves plain HTTP only: put a TLS terminator (nginx, envoy) in front")),
            refuseIf("--ssl-certfile", Kind.TEXT, "", given("pdserve serves plain HTTP only: put a TLS terminator (nginx, envoy) in front")),
            refuseIf("--ssl-ca-certs", Kind.TEXT, "", given("pdserve serves plain HTTP only: put a TLS terminator (nginx, envoy) in front")),
            f("--enable-ssl-refresh", Kind.SWITCH, "pdserve serves plain HTTP; there are no certificates to refresh"),
            f("--ssl-cert-reqs", Kind.INT, "pdserve serves plain HTTP; no client certificates are asked for"),
            f("--root-path", Kind.TEXT, "pdserve serves its API at /; a path-routing proxy in front must strip its prefix"),
            refuseIf("--middleware", Kind.TEXT, "", given("pdserve cannot run Python ASGI middleware")),
            f("--return-tokens-as-token-ids", Kind.SWITCH, "logprobs show tokens as text"),
            f("--disable-frontend-multiprocessing", Kind.SWITCH, "the API server and the engine are always one process"),
            f("--enable-request-id-headers", Kind.SWITCH, "pdserve always answers with an X-Request-Id header"),
            f("--enable-auto-tool-choice", Kind.SWITCH, "tool calls come back as plain text in the message content"),
            f("--exclude-tools-when-tool-choice-none", Kind.SWITCH, "tools are passed to the chat template as the request gives them"),
            f("--tool-call-parser", Kind.TEXT, "tool calls come back as plain text in the message content"),
            refuseIf("--tool-parser-plugin", Kind.TEXT, "", unless("pdserve cannot load Python tool parser plugins", "")),
            refuseIf("--tool-server", Kind.TEXT, "", given("pdserve runs no tool servers")),
            f("--log-config-file", Kind.TEXT, "configure logging with -Djava.util.logging.config.file=FILE (JAVA_OPTS)"),
            f("--max-log-len", Kind.INT, LOGGING),
            f("--disable-fastapi-docs", Kind.SWITCH, "pdserve serves no OpenAPI docs pages"),
            f("--enable-prompt-tokens-details", Kind.SWITCH, "usage has no prompt_tokens_details"),
            f("--enable-server-load-tracking", Kind.SWITCH, "/metrics has the load (vllm:num_requests_running, vllm:num_requests_waiting)"),
            f("--enable-force-include-usage", Kind.SWITCH, "usage is sent as the request asks (stream_options.include_usage)"),
            f("--enable-tokenizer-info-endpoint", Kind.SWITCH, "there is no /get_tokenizer_info; /tokenize and /detokenize are served"),
            f("--enable-log-outputs", Kind.SWITCH, LOGGING),
            f("--h11-max-incomplete-event-size", Kind.INT, "pdserve's HTTP server has its own header and body limits"),
            f("--h11-max-header-count", Kind.INT, "pdserve's HTTP server has its own header limits"),
            f("--log-error-stack", Kind.SWITCH, "set PDSERVE_DEBUG=1 for stack traces"),
            f("--tokens-only", Kind.SWITCH, "pdserve serves all its endpoints"),
            f("--enable-log-requests", Kind.SWITCH, LOGGING),
            f("--aggregate-engine-logging", Kind.SWITCH, "there is one engine per process"),

            // ModelConfig
            refuseIf("--runner", Kind.TEXT, "pdserve runs generative models", unless("pdserve runs generative models only (runner 'generate')", "auto", "generate")),
            refuseIf("--convert", Kind.TEXT, "pdserve runs generative models", unless("pdserve converts no model to pooling or classification", "auto", "none")),
            refuseIf("--task", Kind.TEXT, "pdserve runs generative models", unless("pdserve runs text generation only (task 'generate')", "auto", "generate")),
            f("--tokenizer-mode", Kind.TEXT, "pdserve runs tokenizer.json with the Rust tokenizers library (the 'fast' tokenizer)"),
            refuseIf("--hf-config-path", Kind.TEXT, "", given("pdserve reads config.json from the model folder")),
            f("--allowed-local-media-path", Kind.TEXT, NO_MULTIMODAL),
            f("--allowed-media-domains", Kind.TEXTS, NO_MULTIMODAL),
            f("--revision", Kind.TEXT, LOCAL_FILES),
            f("--code-revision", Kind.TEXT, LOCAL_FILES),
            f("--tokenizer-revision", Kind.TEXT, LOCAL_FILES),
            refuseIf("--rope-scaling", Kind.TEXT, "", given("pdserve takes RoPE scaling from config.json; edit it there")),
            refuseIf("--rope-theta", Kind.NUMBER, "", given("pdserve takes rope_theta from config.json; edit it there")),
            refuseIf("--hf-overrides", Kind.TEXT, "", given("pdserve reads config.json as it is; edit it there")),
            f("--max-logprobs", Kind.INT, "pdserve returns up to 20 top logprobs per token"),
            f("--logprobs-mode", Kind.TEXT, "logprobs are the raw log-softmax of the model's logits (vLLM's raw_logprobs)"),
            f("--disable-sliding-window", Kind.SWITCH, "pdserve's models use full attention"),
            f("--disable-cascade-attn", Kind.SWITCH, "pdserve has no cascade attention"),
            f("--skip-tokenizer-init", Kind.SWITCH, "the tokenizer is always loaded"),
            f("--enable-prompt-embeds", Kind.SWITCH, "prompts are text or token ids"),
            f("--config-format", Kind.TEXT, "pdserve reads Hugging Face config.json"),
            f("--hf-token", Kind.OPTIONAL_TEXT, LOCAL_FILES),
            f("--pooler-config", Kind.TEXT, "pdserve runs no pooling models"),
            f("--override-pooler-config", Kind.TEXT, "pdserve runs no pooling models"),
            f("--logits-processor-pattern", Kind.TEXT, "pdserve runs no custom logits processors"),
            refuseIf("--logits-processors", Kind.TEXTS, "", given("pdserve cannot load Python logits processors")),
            f("--generation-config", Kind.TEXT, "request fields not given take vLLM's defaults"),
            f("--override-generation-config", Kind.TEXT, "request fields not given take vLLM's defaults"),
            f("--enable-sleep-mode", Kind.SWITCH, "there is no sleep mode on a CPU"),
            f("--model-impl", Kind.TEXT, "pdserve has one Java implementation per architecture"),
            f("--override-attention-dtype", Kind.TEXT, "attention runs in fp32"),
            f("--io-processor-plugin", Kind.TEXT, "pdserve loads no IO processor plugins"),

            // LoadConfig
            refuseIf("--load-format", Kind.TEXT, "pdserve loads safetensors",
                    unless("pdserve loads safetensors only (for random weights: pdserve random-model)", "auto", "safetensors")),
            f("--download-dir", Kind.TEXT, LOCAL_FILES),
            f("--safetensors-load-strategy", Kind.TEXT, "pdserve maps safetensors files into memory"),
            f("--model-loader-extra-config", Kind.TEXT, "pdserve's loader has no extra options"),
            f("--ignore-patterns", Kind.TEXTS, "pdserve reads the *.safetensors files the model folder has"),
            f("--use-tqdm-on-load", Kind.SWITCH, "pdserve logs one line when the model is loaded"),
            f("--pt-load-map-location", Kind.TEXT, "pdserve loads no .pt files"),

            // StructuredOutputsConfig
            f("--reasoning-parser", Kind.TEXT, "reasoning text stays in the message content"),
            f("--guided-decoding-backend", Kind.OPTIONAL_TEXT, STRUCTURED),
            f("--guided-decoding-disable-fallback", Kind.OPTIONAL_TEXT, STRUCTURED),
            f("--guided-decoding-disable-any-whitespace", Kind.OPTIONAL_TEXT, STRUCTURED),
            f("--guided-decoding-disable-additional-properties", Kind.OPTIONAL_TEXT, STRUCTURED),
            f("--structured-outputs-config", Kind.TEXT, STRUCTURED),

            // ParallelConfig
            f("--distributed-executor-backend", Kind.TEXT, ONE_PROCESS),
            f("--pipeline-parallel-size -pp", Kind.INT, ONE_PROCESS),
            f("--decode-context-parallel-size -dcp", Kind.INT, ONE_PROCESS),
            refuseIf("--data-parallel-size -dp", Kind.INT, "one engine: data parallel size 1",
                    above(1, "pdserve runs one engine per process, so data parallel size must be 1; " + DP_INSTEAD)),
            refuseIf("--data-parallel-rank -dpn", Kind.INT, "this is the only data parallel rank (0)",
                    above(0, "pdserve runs one engine per process (data parallel rank 0 only); " + DP_INSTEAD)),
            refuseIf("--data-parallel-start-rank -dpr", Kind.INT, "this is the only data parallel rank (0)",
                    above(0, "pdserve runs one engine per process (data parallel rank 0 only); " + DP_INSTEAD)),
            refuseIf("--data-parallel-size-local -dpl", Kind.INT, "one engine on this node",
                    above(1, "pdserve runs one engine per process, so --data-parallel-size-local must be 1; " + DP_INSTEAD)),
            f("--data-parallel-address -dpa", Kind.TEXT, "with one engine there is no data parallel group to reach; not used"),
            f("--data-parallel-rpc-port -dpp", Kind.INT, "with one engine there is no data parallel RPC; the port is not opened"),
            f("--data-parallel-backend -dpb", Kind.TEXT, "with one engine there is no data parallel backend"),
            f("--data-parallel-hybrid-lb", Kind.SWITCH, "load balancing across instances is `pdserve proxy`'s job"),
            f("--all2all-backend", Kind.TEXT, "experts run in this process; there is no all-to-all"),
            f("--enable-dbo", Kind.SWITCH, ONE_PROCESS),
            f("--dbo-decode-token-threshold", Kind.INT, ONE_PROCESS),
            f("--dbo-prefill-token-threshold", Kind.INT, ONE_PROCESS),
            f("--disable-nccl-for-dp-synchronization", Kind.SWITCH, "there is no NCCL on a CPU"),
            f("--enable-eplb", Kind.SWITCH, "experts run in this process; there is nothing to balance"),
            f("--eplb-config", Kind.TEXT, "experts run in this process; there is nothing to balance"),
            f("--expert-placement-strategy", Kind.TEXT, "experts run in this process"),
            f("--num-redundant-experts", Kind.INT, "experts run in this process"),
            f("--eplb-window-size", Kind.INT, "experts run in this process"),
            f("--eplb-step-interval", Kind.INT, "experts run in this process"),
            f("--eplb-log-balancedness", Kind.SWITCH, "experts run in this process"),
            f("--max-parallel-loading-workers", Kind.INT, "pdserve maps the weight files; loading is not split into workers"),
            f("--ray-workers-use-nsight", Kind.SWITCH, "there are no Ray workers"),
            f("--disable-custom-all-reduce", Kind.SWITCH, "there is no all-reduce in one process"),
            refuseIf("--worker-cls", Kind.TEXT, "", unless("pdserve cannot load Python worker classes", "auto")),
            refuseIf("--worker-extension-cls", Kind.TEXT, "", unless("pdserve cannot load Python worker extensions", "")),
            f("--enable-multimodal-encoder-data-parallel", Kind.SWITCH, NO_MULTIMODAL),

            // CacheConfig
            f("--swap-space", Kind.NUMBER, "the KV cache is in host memory already; a preempted request is recomputed"),
            f("--kv-cache-dtype", Kind.TEXT, "the KV cache is kept in fp32"),
            f("--num-gpu-blocks-override", Kind.INT, "size the KV pool with --kv-cache-memory (or VLLM_CPU_KVCACHE_SPACE)"),
            f("--prefix-caching-hash-algo", Kind.TEXT, "pdserve hashes block chains with its own hash"),
            f("--cpu-offload-gb", Kind.NUMBER, "the weights are in host memory already"),
            f("--calculate-kv-scales", Kind.SWITCH, "the KV cache is fp32: no scales"),
            f("--kv-sharing-fast-prefill", Kind.SWITCH, "pdserve's models share no KV across layers"),
            f("--mamba-cache-dtype", Kind.TEXT, "pdserve runs no Mamba models"),
            f("--mamba-ssm-cache-dtype", Kind.TEXT, "pdserve runs no Mamba models"),
            f("--mamba-block-size", Kind.INT, "pdserve runs no Mamba models"),

            // MultiModalConfig
            f("--limit-mm-per-prompt", Kind.TEXT, NO_MULTIMODAL),
            f("--enable-mm-embeds", Kind.SWITCH, NO_MULTIMODAL),
            f("--media-io-kwargs", Kind.TEXT, NO_MULTIMODAL),
            f("--mm-processor-kwargs", Kind.TEXT, NO_MULTIMODAL),
            f("--mm-processor-cache-gb", Kind.NUMBER, NO_MULTIMODAL),
            f("--disable-mm-preprocessor-cache", Kind.SWITCH, NO_MULTIMODAL),
            f("--mm-processor-cache-type", Kind.TEXT, NO_MULTIMODAL),
            f("--mm-shm-cache-max-object-size-mb", Kind.INT, NO_MULTIMODAL),
            f("--mm-encoder-tp-mode", Kind.TEXT, NO_MULTIMODAL),
            f("--mm-encoder-attn-backend", Kind.TEXT, NO_MULTIMODAL),
            f("--interleave-mm-strings", Kind.SWITCH, NO_MULTIMODAL),
            f("--skip-mm-profiling", Kind.SWITCH, NO_MULTIMODAL),
            f("--video-pruning-rate", Kind.NUMBER, NO_MULTIMODAL),

            // LoRAConfig
            f("--enable-lora", Kind.SWITCH, NO_LORA),
            f("--max-loras", Kind.INT, NO_LORA),
            f("--max-lora-rank", Kind.INT, NO_LORA),
            f("--lora-extra-vocab-size", Kind.INT, NO_LORA),
            f("--lora-dtype", Kind.TEXT, NO_LORA),
            f("--max-cpu-loras", Kind.INT, NO_LORA),
            f("--fully-sharded-loras", Kind.SWITCH, NO_LORA),
            f("--default-mm-loras", Kind.TEXT, NO_LORA),

            // ObservabilityConfig
            f("--show-hidden-metrics-for-version", Kind.TEXT, "/metrics shows every metric pdserve has"),
            f("--otlp-traces-endpoint", Kind.TEXT, "pdserve exports no OpenTelemetry traces"),
            f("--collect-detailed-traces", Kind.TEXT, "pdserve exports no OpenTelemetry traces"),

            // SchedulerConfig
            f("--max-num-partial-prefills", Kind.INT, SCHEDULER),
            f("--max-long-partial-prefills", Kind.INT, SCHEDULER),
            f("--long-prefill-token-threshold", Kind.INT, SCHEDULER),
            f("--num-lookahead-slots", Kind.INT, SCHEDULER),
            f("--scheduling-policy", Kind.TEXT, SCHEDULER),
            f("--enable-chunked-prefill", Kind.SWITCH, SCHEDULER),
            f("--disable-chunked-mm-input", Kind.SWITCH, NO_MULTIMODAL),
            refuseIf("--scheduler-cls", Kind.TEXT, "", unless("pdserve cannot load a Python scheduler class", "vllm.core.scheduler.Scheduler", "vllm.v1.core.sched.scheduler.Scheduler")),
            f("--disable-hybrid-kv-cache-manager", Kind.SWITCH, "pdserve has one KV cache manager"),
            f("--async-scheduling", Kind.SWITCH, "pdserve schedules the next step when the current one ends"),

            // CompilationConfig and VllmConfig
            f("--cudagraph-capture-sizes", Kind.TEXTS, NO_GRAPHS),
            f("--cuda-graph-sizes", Kind.TEXTS, NO_GRAPHS),
            f("--max-cudagraph-capture-size", Kind.INT, NO_GRAPHS),
            f("--compilation-config -O", Kind.TEXT, NO_GRAPHS),
            f("--kv-events-config", Kind.TEXT, "pdserve publishes no KV cache events"));

    private VllmFlags() {}

    /** Adds every flag of {@link #FLAGS} the command does not declare itself, hidden from --help. */
    static void register(CommandSpec spec) {
        for (Flag flag : FLAGS) {
            if (flag.names().stream().anyMatch(n -> spec.findOption(n) != null)) continue;
            OptionSpec.Builder b = OptionSpec.builder(flag.names().toArray(String[]::new)).hidden(true)
                    .description("vLLM's flag: " + (flag.instead().isEmpty() ? "refused" : flag.instead()));
            switch (flag.kind()) {
                case SWITCH -> b.type(boolean.class).arity("0").negatable(true);
                case INT -> b.type(Integer.class).arity("1");
                case NUMBER -> b.type(Double.class).arity("1");
                case TEXT -> b.type(String.class).arity("1");
                case TEXTS -> b.type(List.class).auxiliaryTypes(String.class).arity("1..*");
                case OPTIONAL_TEXT -> b.type(String.class).arity("0..1").fallbackValue("true");
            }
            spec.addOption(b.build());
        }
    }

    /**
     * The log lines for the {@link #FLAGS} on this command line, one per flag given; throws
     * {@link IllegalArgumentException} for the first value pdserve cannot honour.
     */
    static List<String> check(ParseResult parsed) {
        List<String> lines = new ArrayList<>();
        for (Flag flag : FLAGS) {
            OptionSpec o = null;
            for (String n : flag.names()) {
                if (parsed.hasMatchedOption(n)) o = parsed.matchedOption(n);
            }
            if (o == null || !o.hidden()) continue; // not given, or declared (and honoured) by the command
            Object value = o.getValue();
            if (flag.refusal() != null) {
                String why = flag.refusal().apply(value);
                if (why != null) throw new IllegalArgumentException(flag.name() + " " + shown(value) + ": " + why);
            }
            lines.add(flag.name() + (flag.kind() == Kind.SWITCH ? (Boolean.TRUE.equals(value) ? "" : " (off)") : " " + shown(value))
                    + ": " + flag.instead() + "; accepted");
        }
        return lines;
    }

    private static String shown(Object value) {
        String s = value instanceof List<?> l ? String.join(" ", l.stream().map(String::valueOf).toList()) : String.valueOf(value);
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    /** vLLM's argument parser takes {@code --max_model_len} for {@code --max-model-len}; so does {@code pdserve serve}. */
    static String[] dashes(String[] args) {
        String[] out = args.clone();
        for (int i = 0; i < out.length; i++) {
            String a = out[i];
            if (!a.startsWith("--")) continue;
            int eq = a.indexOf('=');
            String key = eq < 0 ? a : a.substring(0, eq);
            out[i] = key.replace('_', '-') + (eq < 0 ? "" : a.substring(eq));
        }
        return out;
    }
}
