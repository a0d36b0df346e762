package dev.pdserve.cluster;

import dev.pdserve.kv.KvPeerInfo;
import dev.pdserve.kv.KvProbe;
import dev.pdserve.kv.KvTransferException;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code pdserve doctor}'s KV handshake check: probes every producer
 * with the protocol's PROBE handshake, proving the cluster token from the cluster file's
 * {@code cluster_token_file}, and reports per producer a {@value KvHandshakeCheck#CHECK} row (the
 * token and the descriptor it answered) and a {@value KvDescriptorAgreement#CHECK} row (block size,
 * model fingerprint, layout, dtype and layers agree across producers and with the cluster file's
 * model folder when this node has it).
 */
final class KvDoctorCheck implements KvHandshakeCheck {
    private static final String SAME_BUILD = "run the same pdserve build on every node";

    /** One producer's answer: its descriptor when it gave one, and the handshake row. */
    record Probed(ClusterSpec.Instance instance, Optional<KvPeerInfo> info, CheckResult row) {}

    /** The doctor's cluster token: the file's content, or why it could not be read. */
    record TokenSource(Optional<String> file, String token, String problem) {
        static TokenSource of(ClusterSpec spec) {
            if (spec.clusterTokenFile().isEmpty()) return new TokenSource(Optional.empty(), "", null);
            String f = spec.clusterTokenFile().get();
            try {
                return new TokenSource(Optional.of(f), Files.readString(Path.of(f)).strip(), null);
            } catch (IOException | RuntimeException e) {
                return new TokenSource(Optional.of(f), "", "cannot read cluster_token_file " + f + " on this node ("
                        + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
            }
        }
    }

    @Override
    public List<CheckResult> check(ClusterSpec spec, List<ClusterSpec.Instance> instances, Duration timeout) {
        TokenSource token = TokenSource.of(spec);
        int timeoutMs = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        List<Probed> probed = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Probed>> futures = instances.stream().map(in -> pool.submit(() -> probe(in, token, timeoutMs))).toList();
            for (Future<Probed> f : futures) probed.add(f.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("KV probes interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("KV probe crashed: " + e.getCause(), e.getCause());
        }
        List<CheckResult> agreement = KvDescriptorAgreement.rows(probed, KvDescriptorAgreement.Reference.of(spec));
        List<CheckResult> rows = new ArrayList<>();
        for (Probed p : probed) {
            rows.add(p.row());
            agreement.stream().filter(r -> r.instance().equals(p.instance().id())).forEach(rows::add);
        }
        return rows;
    }

    static Probed probe(ClusterSpec.Instance in, TokenSource token, int timeoutMs) {
        String id = in.id(), at = in.kvAddress();
        KvProbe.Result r;
        try {
            r = KvProbe.probe(in.kvIp(), in.kvPort(), token.token(), "pdserve doctor (pid " + ProcessHandle.current().pid() + ")", timeoutMs);
        } catch (KvTransferException e) {
            String m = e.getMessage();
            if (m.contains("expected HELLO, got")) {
                return failed(in, "the producer at " + at + " does not understand PROBE (a pdserve build older than this doctor): " + m, SAME_BUILD);
            }
            return failed(in, "the producer at " + at + " refused the probe: " + m, SAME_BUILD);
        } catch (SocketTimeoutException e) {
            return failed(in, "no KV HELLO from " + at + " within " + timeoutMs + " ms",
                    "the instance is stuck or overloaded (read its log, or raise --timeout-ms), or kv_port " + in.kvPort()
                            + " is another service's port: check it against " + id + "'s --kv-transfer-config");
        } catch (ConnectException | NoRouteToHostException e) { // the port closed since the kv_port check
            return failed(in, "cannot connect to " + at + ": " + e.getMessage(),
                    "start the instance with its --kv-transfer-config, or open the port in the firewall");
        } catch (EOFException | SocketException e) { // closed, or reset with our PROBE unread
            return failed(in, at + " accepted the connection but closed it without a KV HELLO: not a pdserve KV producer",
                    "check that kv_port " + in.kvPort() + " in the cluster file is the port of " + id + "'s --kv-transfer-config, not another service");
        } catch (IOException e) {
            return failed(in, "no pdserve KV answer from " + at + ": " + e.getMessage(),
                    "check that kv_port " + in.kvPort() + " in the cluster file is the port of " + id + "'s --kv-transfer-config, not another service");
        }
        return new Probed(in, Optional.of(r.producer()), tokenRow(in, r, token));
    }

    private static Probed failed(ClusterSpec.Instance in, String detail, String fix) {
        return new Probed(in, Optional.empty(), CheckResult.fail(in.id(), CHECK, detail, fix));
    }

    private static CheckResult tokenRow(ClusterSpec.Instance in, KvProbe.Result r, TokenSource token) {
        String id = in.id(), what = describe(r.producer(), in);
        String file = token.file().orElse("");
        String sameToken = "use the same cluster_token_file on every instance";
        if (token.problem() != null) {
            return CheckResult.fail(id, CHECK, token.problem() + ", so the cluster token was not checked (the producer "
                            + (r.token() == KvProbe.Token.ONLY_PRODUCER ? "has" : "has no") + " token); " + what,
                    "copy the cluster token to " + file + " on this node (every node needs it there), or pass --cluster-token-file PATH");
        }
        return switch (r.token()) {
            case PROVED -> CheckResult.pass(id, CHECK, "cluster token accepted (HMAC proof both ways); " + what);
            case NONE -> CheckResult.pass(id, CHECK, "no cluster token on the producer nor in the cluster file (KV transfers are not authenticated); " + what);
            case REJECTED -> CheckResult.fail(id, CHECK, "cluster token mismatch: " + id + " rejected the proof made with " + file + "; " + what,
                    sameToken + ": " + id + "'s token is not the one in " + file);
            case PRODUCER_PROOF_WRONG -> CheckResult.fail(id, CHECK, "cluster token mismatch: " + in.kvAddress()
                            + " accepted our proof but could not prove the token in " + file + "; " + what,
                    sameToken + ", and check that " + in.kvAddress() + " is " + id + "'s pdserve");
            case ONLY_PRODUCER -> CheckResult.fail(id, CHECK, "cluster token mismatch: " + id + " requires a cluster token but "
                            + (file.isEmpty() ? "the cluster file names no cluster_token_file" : file + " is empty") + "; " + what,
                    sameToken + ": add \"cluster_token_file\" (the file " + id + " was started with) to the cluster file, or pass --cluster-token-file PATH");
            case ONLY_PROBER -> CheckResult.fail(id, CHECK, "cluster token mismatch: " + id + " runs without a cluster token but the cluster file names " + file + "; " + what,
                    sameToken + ": restart " + id + " with serve --cluster (or kv_connector_extra_config.cluster_token_file " + file + ")");
        };
    }

    /** The descriptor as a person reads it, noting an engine id the cluster file does not expect. */
    static String describe(KvPeerInfo p, ClusterSpec.Instance in) {
        String engine = p.engineId().equals(in.engineId()) ? "engine " + p.engineId()
                : "engine " + p.engineId() + " (cluster file: " + in.engineId() + ")";
        return engine + ", model " + p.modelFingerprint() + ", block size " + p.blockSize() + ", layout " + p.kvLayout()
                + ", dtype " + p.dtype() + ", " + p.numLayers() + " layers x " + p.entryFloats() + " floats, protocol " + p.protocolVersion();
    }
}
