package dev.pdserve.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.kv.KvRole;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code pdserve doctor}: probes every instance of a cluster from this node and says, per check,
 * PASS, FAIL (with the fix) or SKIP. Instances are probed in parallel so a dead node costs one
 * timeout, not one per check; agreement checks (version, model) compare the answers afterwards.
 */
public final class Doctor implements AutoCloseable {
    static final String ADDRESS = "address", HTTP = "http", RTT = "rtt", KV_PORT = "kv_port",
            VERSION = "version", MODEL = "model", PROXY = "proxy", PORT = "port", REACHABLE = "reachable";
    private static final int RTT_SAMPLES = 3;

    private final Duration timeout;
    private final Optional<String> apiKey;
    private final KvHandshakeCheck handshake;
    private final HttpClient http;
    private final ObjectMapper json = new ObjectMapper();

    /** A doctor that probes the producers' KV ports with the transfer protocol's handshake. */
    public Doctor(Duration timeout, Optional<String> apiKey) {
        this(timeout, apiKey, new KvDoctorCheck());
    }

    Doctor(Duration timeout, Optional<String> apiKey, KvHandshakeCheck handshake) {
        this.timeout = timeout;
        this.apiKey = apiKey;
        this.handshake = handshake;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout).build();
    }

    @Override
    public void close() {
        http.close();
    }

    /** What one instance answered; {@code version}/{@code models} are empty when it did not. */
    private record Probe(ClusterSpec.Instance instance, CheckResult address, CheckResult health, CheckResult rtt,
                         CheckResult kvPort, Agreement.Answer version, Agreement.Answer models) {}

    public DoctorReport run(ClusterSpec spec) {
        List<Probe> probes = new ArrayList<>();
        CheckResult proxy;
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Probe>> futures = spec.instances().stream().map(in -> pool.submit(() -> probe(spec, in))).toList();
            Future<CheckResult> proxyFuture = pool.submit(() -> tcp(PROXY, PORT, spec.proxy().host(), spec.proxy().port(), "proxy",
                    "start the proxy (pdserve proxy --cluster ...) or open the port in the firewall"));
            for (Future<Probe> f : futures) probes.add(f.get());
            proxy = proxyFuture.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("doctor interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("doctor probe crashed: " + e.getCause(), e.getCause());
        }
        List<CheckResult> versions = Agreement.rows(VERSION, probes.stream().map(Probe::version).toList(),
                "run the same pdserve build on every node");
        List<CheckResult> models = Agreement.rows(MODEL, probes.stream().map(Probe::models).toList(),
                "serve the same model (and --served-model-name) on every instance");
        List<CheckResult> handshakes = runHandshake(spec, probes.stream()
                .filter(p -> p.kvPort().status() == CheckResult.Status.PASS).map(Probe::instance).toList());
        boolean multiNode = spec.instances().stream().anyMatch(in -> !onlyReachableHere(in.host()));
        List<CheckResult> rows = new ArrayList<>();
        for (int i = 0; i < probes.size(); i++) {
            Probe p = probes.get(i);
            rows.add(p.address());
            if (multiNode) rows.addAll(loopbackRows(p.instance()));
            rows.addAll(List.of(p.health(), p.rtt(), p.kvPort(), versions.get(i), models.get(i)));
            rows.addAll(handshakeRows(p, handshakes));
        }
        rows.add(proxy);
        return new DoctorReport(rows);
    }

    private Probe probe(ClusterSpec spec, ClusterSpec.Instance in) {
        CheckResult address = address(in);
        CheckResult health = health(in);
        boolean up = health.status() == CheckResult.Status.PASS;
        CheckResult rtt = up ? rtt(in) : CheckResult.skip(in.id(), RTT, "not measured: http check failed");
        Agreement.Answer version = up ? answer(in, VERSION, "/version", false, body -> Optional.of(body.path("version").asText()).filter(v -> !v.isEmpty()))
                : new Agreement.Answer(in.id(), Optional.empty(), CheckResult.skip(in.id(), VERSION, "not asked: http check failed"));
        Agreement.Answer models = up ? answer(in, MODEL, "/v1/models", true, this::modelIds)
                : new Agreement.Answer(in.id(), Optional.empty(), CheckResult.skip(in.id(), MODEL, "not asked: http check failed"));
        // Only producers listen for KV: decoders (kv_consumer) dial the producers, so their kv_port has no listener.
        CheckResult kv = in.role() == KvRole.CONSUMER ? CheckResult.skip(in.id(), KV_PORT, CONSUMER_HAS_NO_KV_LISTENER)
                : tcp(in.id(), KV_PORT, in.kvIp(), in.kvPort(), "KV",
                "start the instance with its --kv-transfer-config, or open the port in the firewall");
        return new Probe(in, address, health, rtt, kv, version, models);
    }

    static final String CONSUMER_HAS_NO_KV_LISTENER = "kv_consumer instances do not listen on a KV port (they connect to the producers')";

    /** All answering producers at once, so the check can compare their descriptors. */
    private List<CheckResult> runHandshake(ClusterSpec spec, List<ClusterSpec.Instance> answering) {
        try {
            return handshake.check(spec, answering, timeout);
        } catch (RuntimeException e) {
            return answering.stream().map(in -> CheckResult.fail(in.id(), KvHandshakeCheck.CHECK, "handshake check crashed: " + e,
                    "report this as a pdserve bug, with the doctor output")).toList();
        }
    }

    /** The handshake check's rows for this instance, or the reason it was not asked. */
    private static List<CheckResult> handshakeRows(Probe p, List<CheckResult> handshakes) {
        String id = p.instance().id();
        if (p.instance().role() == KvRole.CONSUMER) {
            return List.of(CheckResult.skip(id, KvHandshakeCheck.CHECK, "not tried: consumers do not listen on a KV port; "
                    + "each producer checks a consumer's token, model and block size at its first pull"));
        }
        if (p.kvPort().status() != CheckResult.Status.PASS) {
            return List.of(CheckResult.skip(id, KvHandshakeCheck.CHECK, "not tried: kv port unreachable"));
        }
        List<CheckResult> mine = handshakes.stream().filter(r -> r.instance().equals(id)).toList();
        return mine.isEmpty() ? List.of(CheckResult.fail(id, KvHandshakeCheck.CHECK, "the handshake check returned no result",
                "report this as a pdserve bug, with the doctor output")) : mine;
    }

    /** Is the instance's host (and kv_ip) this node? If so both must be our addresses; if not, say what they resolve to. */
    private CheckResult address(ClusterSpec.Instance in) {
        Optional<InetAddress> host = LocalNode.resolve(in.host());
        if (host.isEmpty()) {
            return CheckResult.fail(in.id(), ADDRESS, "host " + in.host() + " does not resolve",
                    "fix host in the cluster file or add the name to DNS / /etc/hosts on this node");
        }
        Optional<InetAddress> kv = LocalNode.resolve(in.kvIp());
        if (kv.isEmpty()) {
            return CheckResult.fail(in.id(), ADDRESS, "kv_ip " + in.kvIp() + " does not resolve",
                    "fix kv_ip in the cluster file or add the name to DNS / /etc/hosts on this node");
        }
        String resolved = "host " + in.host() + " -> " + LocalNode.literal(host.get()) + ", kv_ip " + in.kvIp() + " -> " + LocalNode.literal(kv.get());
        if (!LocalNode.isLocal(host.get())) return CheckResult.pass(in.id(), ADDRESS, "remote node: " + resolved);
        if (!LocalNode.isLocal(kv.get())) {
            return CheckResult.fail(in.id(), ADDRESS, "runs on this node (" + resolved + ") but kv_ip is not an address of this node",
                    "set kv_ip/device_ip to one of this node's addresses " + localAddresses()
                            + ", e.g. regenerate with `pdserve ranktable --network-card-name IF`");
        }
        return CheckResult.pass(in.id(), ADDRESS, "this node: " + resolved);
    }

    /** 127.0.0.1 in a cluster that spans machines: the other nodes would dial their own loopback. */
    private static List<CheckResult> loopbackRows(ClusterSpec.Instance in) {
        List<CheckResult> out = new ArrayList<>();
        for (String addr : new TreeSet<>(List.of(in.host(), in.kvIp()))) {
            if (onlyReachableHere(addr)) {
                out.add(CheckResult.fail(in.id(), REACHABLE, addr + " is a loopback or wildcard address but the cluster spans other nodes",
                        "use this node's network address for " + in.id() + " (host and kv_ip) so other nodes can reach it"));
            }
        }
        return out;
    }

    /** Loopback (127.0.0.1) or wildcard (0.0.0.0, a bind address): other nodes cannot dial it. */
    private static boolean onlyReachableHere(String host) {
        return LocalNode.resolve(host).map(a -> a.isLoopbackAddress() || a.isAnyLocalAddress()).orElse(false);
    }

    private CheckResult health(ClusterSpec.Instance in) {
        String url = url(in, "/health");
        try {
            long t0 = System.nanoTime();
            HttpResponse<String> r = get(url, false);
            String ms = ms(System.nanoTime() - t0);
            if (r.statusCode() == 200) return CheckResult.pass(in.id(), HTTP, "GET " + url + " -> 200 in " + ms + " ms");
            if (r.statusCode() == 404) {
                return CheckResult.fail(in.id(), HTTP, "GET " + url + " -> 404",
                        "something else listens on " + in.httpAddress() + ": is it a pdserve or vLLM server? Check http_port in the cluster file");
            }
            return CheckResult.fail(in.id(), HTTP, "GET " + url + " -> " + r.statusCode() + " " + abbreviate(r.body()),
                    "the instance is up but not healthy: read its log (model still loading? engine dead?)");
        } catch (IOException e) {
            return NetworkFailure.row(in.id(), HTTP, in.host(), in.httpPort(), "HTTP", e,
                    "start the instance or open the port in the firewall", timeout);
        }
    }

    private CheckResult rtt(ClusterSpec.Instance in) {
        long[] ns = new long[RTT_SAMPLES];
        try {
            for (int i = 0; i < RTT_SAMPLES; i++) {
                long t0 = System.nanoTime();
                get(url(in, "/health"), false);
                ns[i] = System.nanoTime() - t0;
            }
        } catch (IOException e) {
            return CheckResult.fail(in.id(), RTT, "health stopped answering while measuring: " + NetworkFailure.describe(e),
                    "the instance or the network is flapping: read the instance's log");
        }
        Arrays.sort(ns);
        return CheckResult.pass(in.id(), RTT, "median " + ms(ns[RTT_SAMPLES / 2]) + " ms over " + RTT_SAMPLES
                + " GET /health (min " + ms(ns[0]) + ", max " + ms(ns[RTT_SAMPLES - 1]) + ")");
    }

    private interface BodyReader {
        Optional<String> read(JsonNode body);
    }

    private Agreement.Answer answer(ClusterSpec.Instance in, String check, String path, boolean auth, BodyReader reader) {
        String url = url(in, path);
        try {
            HttpResponse<String> r = get(url, auth);
            if (r.statusCode() == 401 || r.statusCode() == 403) {
                return new Agreement.Answer(in.id(), Optional.empty(), CheckResult.fail(in.id(), check, "GET " + url + " -> " + r.statusCode(),
                        "pass the instances' key: pdserve doctor --api-key KEY"));
            }
            if (r.statusCode() != 200) {
                return new Agreement.Answer(in.id(), Optional.empty(), CheckResult.fail(in.id(), check, "GET " + url + " -> " + r.statusCode() + " " + abbreviate(r.body()),
                        "is " + in.httpAddress() + " a pdserve or vLLM server? It must answer " + path));
            }
            Optional<String> value = reader.read(json.readTree(r.body()));
            if (value.isPresent()) return new Agreement.Answer(in.id(), value, null);
            return new Agreement.Answer(in.id(), Optional.empty(), CheckResult.fail(in.id(), check, "GET " + url + " answered without the expected field: " + abbreviate(r.body()),
                    "is " + in.httpAddress() + " a pdserve or vLLM server? Run the same build on every node"));
        } catch (JsonProcessingException e) {
            return new Agreement.Answer(in.id(), Optional.empty(), CheckResult.fail(in.id(), check, "GET " + url + " did not answer JSON",
                    "is " + in.httpAddress() + " a pdserve or vLLM server?"));
        } catch (IOException e) {
            return new Agreement.Answer(in.id(), Optional.empty(), NetworkFailure.row(in.id(), check, in.host(), in.httpPort(), "HTTP", e,
                    "the instance stopped answering during the checks: read its log", timeout));
        }
    }

    private Optional<String> modelIds(JsonNode body) {
        TreeSet<String> ids = new TreeSet<>();
        for (JsonNode m : body.path("data")) if (m.path("id").isTextual()) ids.add(m.get("id").asText());
        return ids.isEmpty() ? Optional.empty() : Optional.of(String.join(",", ids));
    }

    /** TCP connect only: the port is open; the handshake check says whether the right protocol answers. */
    private CheckResult tcp(String instance, String check, String host, int port, String what, String fix) {
        try (Socket s = new Socket()) {
            long t0 = System.nanoTime();
            s.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
            return CheckResult.pass(instance, check, "TCP connect " + ClusterSpec.hostPort(host, port) + " in " + ms(System.nanoTime() - t0) + " ms");
        } catch (IOException e) {
            return NetworkFailure.row(instance, check, host, port, what, e, fix, timeout);
        }
    }

    private HttpResponse<String> get(String url, boolean auth) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET();
        if (auth) apiKey.ifPresent(k -> b.header("Authorization", "Bearer " + k));
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static String url(ClusterSpec.Instance in, String path) {
        return "http://" + in.httpAddress() + path;
    }

    private static String abbreviate(String body) {
        String s = body == null ? "" : body.strip().replaceAll("\\s+", " ");
        return s.length() <= 120 ? s : s.substring(0, 117) + "...";
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }

    private static String localAddresses() {
        return LocalNode.addresses().stream().filter(a -> !a.isLinkLocalAddress()).map(LocalNode::literal).sorted().toList().toString();
    }
}
