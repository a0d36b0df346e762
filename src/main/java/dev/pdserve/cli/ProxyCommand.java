package dev.pdserve.cli;

import dev.pdserve.cluster.ClusterSpec;
import dev.pdserve.proxy.InstanceAddress;
import dev.pdserve.proxy.ProxyConfig;
import dev.pdserve.proxy.ProxyServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code pdserve proxy}: the PD load-balancing proxy, with vllm-ascend's load-balance proxy flags. */
@Command(name = "proxy", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Route OpenAI requests across prefill (kv_producer) and decode (kv_consumer) instances.")
final class ProxyCommand implements Callable<Integer> {
    @Option(names = "--host", description = "Address to listen on (default: ${DEFAULT-VALUE}, i.e. vLLM's 'localhost').")
    String host = "127.0.0.1";

    @Option(names = "--port", description = "Port to listen on (default: ${DEFAULT-VALUE}).")
    int port = 8000;

    @Option(names = "--prefiller-hosts", arity = "1..*", description = "Prefill instance hosts (default: localhost).")
    List<String> prefillerHosts = List.of("localhost");

    @Option(names = "--prefiller-ports", arity = "1..*", description = "Prefill instance ports, paired with the hosts; "
            + "one host with several ports expands (default: 8001).")
    List<Integer> prefillerPorts = List.of(8001);

    @Option(names = "--decoder-hosts", arity = "1..*", description = "Decode instance hosts (default: localhost).")
    List<String> decoderHosts = List.of("localhost");

    @Option(names = "--decoder-ports", arity = "1..*", description = "Decode instance ports (default: 8002).")
    List<Integer> decoderPorts = List.of(8002);

    @Option(names = "--cluster", description = "A cluster.json (pdserve ranktable): the prefill and decode instances, and the proxy's host and port unless --host/--port are given.")
    Path cluster;

    @Spec
    CommandSpec spec;

    @Option(names = "--max-retries", description = "Retries after a failed attempt, before the first byte reached the client (default: ${DEFAULT-VALUE}).")
    int maxRetries = 3;

    @Option(names = "--retry-delay", description = "Base delay in seconds of the exponential backoff between retries (default: ${DEFAULT-VALUE}).")
    double retryDelay = 0.001;

    @Option(names = "--admin-api-key", description = "Key for /instances/add and /instances/remove (X-API-Key or Authorization: Bearer); without it the admin API answers 403.")
    String adminApiKey;

    @Option(names = "--health-interval", description = "Seconds between GET /health (and /metrics) probes of each instance; 0 turns them off (default: ${DEFAULT-VALUE}).")
    double healthInterval = 5;

    @Option(names = "--request-timeout", description = "Seconds to wait for a prefill answer, a whole non-streaming decode answer, or a stream's first headers (default: ${DEFAULT-VALUE}).")
    double requestTimeout = 600;

    @Option(names = "--circuit-breaker-failures", description = "Consecutive failures that open an instance's circuit breaker (default: ${DEFAULT-VALUE}).")
    int breakerFailures = 5;

    @Option(names = "--circuit-breaker-cooldown", description = "Seconds an open breaker waits before one probe request (default: ${DEFAULT-VALUE}).")
    double breakerCooldown = 10;

    @Option(names = "--routing", description = "least-loaded, round-robin or kv-aware: route by where the prompt's prefix KV is (default: ${DEFAULT-VALUE}).")
    String routing = "kv-aware";

    @Option(names = "--prefill-threshold", description = "With kv-aware routing, a request of which at most this many prompt tokens are not cached on a decode instance is prefilled there, not disaggregated; 0: always disaggregate (default: ${DEFAULT-VALUE}).")
    int prefillThreshold = ProxyConfig.DEFAULT_PREFILL_THRESHOLD;

    private boolean given(String option) {
        return spec != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** How long SIGTERM waits for running requests before the proxy stops anyway. */
    private static final Duration DRAIN_TIMEOUT = Duration.ofMinutes(5);

    @Override
    public Integer call() throws Exception {
        ProxyConfig config = config();
        ListenCheck.checkFree(config.host(), config.port());
        try (ProxyServer server = ProxyServer.start(config)) {
            if (server.port() < 0) throw ListenCheck.inUse(config.host(), config.port()); // taken since the check
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                System.err.println("pdserve proxy: shutting down, draining running requests (new ones get 503) ...");
                server.drain(DRAIN_TIMEOUT);
                server.close();
                System.err.println("pdserve proxy: drained, bye");
            }, "proxy-drain"));
            server.awaitTermination();
        }
        return 0;
    }

    /** The flags as a config; the one place the instance lists are built (a --cluster file would fill them here). */
    ProxyConfig config() {
        // Only decoders named: a plain load balancer, no prefill instance (vllm-ascend's default one would not exist).
        boolean decodersOnly = !given("--prefiller-hosts") && !given("--prefiller-ports") && (given("--decoder-hosts") || given("--decoder-ports"));
        List<InstanceAddress> prefillers = decodersOnly ? List.of() : InstanceAddress.expand(prefillerHosts, prefillerPorts, "prefiller");
        List<InstanceAddress> decoders = InstanceAddress.expand(decoderHosts, decoderPorts, "decoder");
        if (cluster != null) {
            ClusterSpec spec = ClusterSpec.load(cluster);
            prefillers = spec.prefillers().stream().map(i -> new InstanceAddress(i.host(), i.httpPort())).toList();
            decoders = spec.decoders().stream().map(i -> new InstanceAddress(i.host(), i.httpPort())).toList();
            if (!given("--host")) host = spec.proxy().host();
            if (!given("--port")) port = spec.proxy().port();
        }
        return new ProxyConfig().host(host).port(port)
                .prefillers(prefillers)
                .decoders(decoders)
                .maxRetries(maxRetries).retryDelay(ProxyConfig.seconds(retryDelay))
                .adminApiKey(adminApiKey).healthInterval(ProxyConfig.seconds(healthInterval))
                .requestTimeout(ProxyConfig.seconds(requestTimeout))
                .breakerFailures(breakerFailures).breakerCooldown(ProxyConfig.seconds(breakerCooldown))
                .routing(routing).prefillThreshold(prefillThreshold)
                .upstreamApiKey(System.getenv("OPENAI_API_KEY"));
    }
}
