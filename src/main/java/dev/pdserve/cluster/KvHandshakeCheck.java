package dev.pdserve.cluster;

import java.time.Duration;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Doctor's KV handshake probe: connect to the producers' kv ports and run the transfer protocol's
 * handshake (cluster token, model fingerprint, block size) without moving any blocks, then compare
 * what they said. The KV package provides the real one through {@link ServiceLoader}
 * (META-INF/services/dev.pdserve.cluster.KvHandshakeCheck); without it doctor reports SKIP.
 */
public interface KvHandshakeCheck {
    String CHECK = "kv_handshake";

    /**
     * The rows for {@code instances} (those whose kv port answered): at least one {@value #CHECK}
     * row per instance, plus any cross-instance rows, each naming its instance. Gets all instances at
     * once so it can compare them; never throws for a network error.
     */
    List<CheckResult> check(ClusterSpec spec, List<ClusterSpec.Instance> instances, Duration timeout);

    /** The stand-in while no KV wire protocol is on the class path. */
    KvHandshakeCheck UNAVAILABLE = (spec, instances, timeout) -> instances.stream()
            .map(in -> CheckResult.skip(in.id(), CHECK, "kv handshake: not available in this build")).toList();

    /** The first registered implementation, else {@link #UNAVAILABLE}. */
    static KvHandshakeCheck discover() {
        return ServiceLoader.load(KvHandshakeCheck.class).findFirst().orElse(UNAVAILABLE);
    }
}
