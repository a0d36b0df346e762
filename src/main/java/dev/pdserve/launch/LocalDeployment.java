package dev.pdserve.launch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * pdserve on loopback, started as child processes: one colocated instance, or a prefill instance
 * (kv_producer), a decode instance (kv_consumer) and the proxy in front of them. Ports are picked free,
 * every process logs to its own file in {@link Options#logDir}, and {@link #close} stops them all.
 */
public final class LocalDeployment implements AutoCloseable {
    private static final String HOST = "127.0.0.1";

    /**
     * @param modelDir        the model every instance serves
     * @param servedModelName the name in the API (the same on every instance, so requests route anywhere)
     * @param logDir          where the *.log files go
     * @param serveArgs       extra `pdserve serve` flags for every instance, e.g. --kv-cache-memory 128MiB
     * @param readyTimeout    how long each process may take to start
     * @param stopGrace       how long each process may take to stop after SIGTERM before it is killed
     */
    public record Options(Path modelDir, String servedModelName, Path logDir, List<String> serveArgs,
                          Duration readyTimeout, Duration stopGrace) {
        public Options {
            serveArgs = List.copyOf(serveArgs);
        }
    }

    private final ProcessGroup group;
    private final String baseUrl;

    private LocalDeployment(ProcessGroup group, String baseUrl) {
        this.group = group;
        this.baseUrl = baseUrl;
    }

    /** One `pdserve serve` doing both prefill and decode. */
    public static LocalDeployment colocated(Options o, Placement where, PrintStream log) {
        ProcessGroup group = new ProcessGroup(o.stopGrace());
        try {
            int port = FreePorts.pick(1)[0];
            ManagedProcess p = group.start(serve(o, "colocated", port, where, null));
            announce(log, p, "colocated", port, where);
            p.awaitReady(o.readyTimeout());
            return new LocalDeployment(group, url(port));
        } catch (RuntimeException e) {
            closeQuietly(group, e);
            throw e;
        }
    }

    /** Prefill (kv_producer) and decode (kv_consumer) instances, started together, then the proxy. */
    public static LocalDeployment disaggregated(Options o, Placement prefillAt, Placement decodeAt, PrintStream log) {
        ProcessGroup group = new ProcessGroup(o.stopGrace());
        try {
            int[] ports = FreePorts.pick(5); // prefill http, prefill kv, decode http, decode kv, proxy
            Path token = ClusterToken.write(o.logDir());
            ManagedProcess prefill = group.start(serve(o, "prefill", ports[0], prefillAt,
                    kvTransferConfig("kv_producer", ports[1], "prefill-0", token)));
            announce(log, prefill, "prefill (kv_producer)", ports[0], prefillAt);
            ManagedProcess decode = group.start(serve(o, "decode", ports[2], decodeAt,
                    kvTransferConfig("kv_consumer", ports[3], "decode-0", token)));
            announce(log, decode, "decode (kv_consumer)", ports[2], decodeAt);
            prefill.awaitReady(o.readyTimeout());
            decode.awaitReady(o.readyTimeout());

            List<String> proxyArgs = List.of("proxy", "--host", HOST, "--port", String.valueOf(ports[4]),
                    "--prefiller-hosts", HOST, "--prefiller-ports", String.valueOf(ports[0]),
                    "--decoder-hosts", HOST, "--decoder-ports", String.valueOf(ports[2]));
            ManagedProcess proxy = group.start(new ProcessSpec("proxy", JavaCommand.pdserve(proxyArgs, null),
                    o.logDir().resolve("proxy.log"), URI.create(url(ports[4]) + "/health")));
            announce(log, proxy, "proxy", ports[4], Placement.ANYWHERE);
            proxy.awaitReady(o.readyTimeout());
            return new LocalDeployment(group, url(ports[4]));
        } catch (RuntimeException e) {
            closeQuietly(group, e);
            throw e;
        }
    }

    /** What requests go to: the colocated instance or the proxy. */
    public String baseUrl() {
        return baseUrl;
    }

    public List<ManagedProcess> processes() {
        return group.processes();
    }

    /** Stops every process of this deployment (also safe to call from another thread, e.g. a watchdog). */
    @Override
    public void close() {
        group.close();
    }

    private static ProcessSpec serve(Options o, String name, int port, Placement where, String kvConfig) {
        List<String> args = new ArrayList<>(List.of("serve", o.modelDir().toString(), "--host", HOST,
                "--port", String.valueOf(port), "--served-model-name", o.servedModelName()));
        if (where.threads() > 0) args.addAll(List.of("--threads", String.valueOf(where.threads())));
        if (kvConfig != null) args.addAll(List.of("--kv-transfer-config", kvConfig));
        args.addAll(o.serveArgs());
        return new ProcessSpec(name, JavaCommand.pdserve(args, where.cores()), o.logDir().resolve(name + ".log"),
                URI.create(url(port) + "/health"));
    }

    /**
     * vLLM's --kv-transfer-config for one loopback instance; both share a fresh cluster token (in a file, so it
     * never shows in `ps`), so no other process on this machine can pull or serve their KV.
     */
    static String kvTransferConfig(String role, int kvPort, String engineId, Path tokenFile) {
        ObjectNode cfg = new ObjectMapper().createObjectNode();
        cfg.put("kv_connector", "PdTcpConnector");
        cfg.put("kv_role", role);
        cfg.put("kv_ip", HOST);
        cfg.put("kv_port", kvPort);
        cfg.put("engine_id", engineId);
        cfg.putObject("kv_connector_extra_config").put("cluster_token_file", tokenFile.toString());
        return cfg.toString();
    }

    private static void announce(PrintStream log, ManagedProcess p, String what, int port, Placement where) {
        log.printf("started %-22s %s  pid %d, %s, log %s%n", what, url(port), p.pid(), where, p.logFile());
    }

    private static String url(int port) {
        return "http://" + HOST + ":" + port;
    }

    private static void closeQuietly(ProcessGroup group, RuntimeException primary) {
        try {
            group.close();
        } catch (RuntimeException e) {
            primary.addSuppressed(e);
        }
    }
}
