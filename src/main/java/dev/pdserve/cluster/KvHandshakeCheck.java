package dev.pdserve.cluster;

import java.time.Duration;
import java.util.List;

/**
 * Doctor's KV handshake probe: connect to the producers' kv ports and run the transfer protocol's
 * handshake (cluster token, model fingerprint, block size) without moving any blocks, then compare
 * what they said. {@link KvDoctorCheck} is the real one; tests hand {@link Doctor} stand-ins.
 */
interface KvHandshakeCheck {
    String CHECK = "kv_handshake";

    /**
     * The rows for {@code instances} (those whose kv port answered): at least one {@value #CHECK}
     * row per instance, plus any cross-instance rows, each naming its instance. Gets all instances at
     * once so it can compare them; never throws for a network error.
     */
    List<CheckResult> check(ClusterSpec spec, List<ClusterSpec.Instance> instances, Duration timeout);
}
