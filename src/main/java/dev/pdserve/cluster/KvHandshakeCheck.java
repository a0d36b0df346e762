package dev.pdserve.cluster;

import java.time.Duration;
import java.util.ServiceLoader;

/**
 * Doctor's KV handshake probe: connect to an instance's kv port and run the transfer protocol's
 * handshake (cluster token, model fingerprint, block size) without moving any blocks.
 * The KV package provides the real one through {@link ServiceLoader}
 * (META-INF/services/dev.pdserve.cluster.KvHandshakeCheck); until then doctor reports SKIP.
 */
public interface KvHandshakeCheck {
    String CHECK = "kv_handshake";

    /** Returns the result row for {@code instance} (check name {@value #CHECK}); never throws for a network error. */
    CheckResult check(ClusterSpec spec, ClusterSpec.Instance instance, Duration timeout);

    /** The stand-in while no KV wire protocol is on the class path. */
    KvHandshakeCheck UNAVAILABLE = (spec, instance, timeout) ->
            CheckResult.skip(instance.id(), CHECK, "kv handshake: not available in this build");

    /** The first registered implementation, else {@link #UNAVAILABLE}. */
    static KvHandshakeCheck discover() {
        return ServiceLoader.load(KvHandshakeCheck.class).findFirst().orElse(UNAVAILABLE);
    }
}
