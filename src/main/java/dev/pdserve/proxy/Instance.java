package dev.pdserve.proxy;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** One upstream prefill or decode instance, with the load and health the balancer ranks it by. */
final class Instance {
    final InstanceType type;
    final InstanceAddress address;
    final CircuitBreaker breaker;
    /** Prompt tokens of prefill requests sent and not yet answered (token ids exactly, text estimated). */
    final AtomicLong pendingPromptTokens = new AtomicLong();
    /** Requests in flight on this instance. */
    final AtomicInteger activeRequests = new AtomicInteger();
    /** {@code vllm:kv_cache_usage_perc} from the instance's /metrics, 0..1; ties are broken by it. */
    volatile double kvCacheUsage;
    volatile boolean healthy;
    /** The last failure seen (probe or request); null once a probe or a request passes after it. */
    volatile String lastError;
    /** It has been healthy (trusted at the start, or by a probe), so healthy after unhealthy is a recovery. */
    volatile boolean everHealthy;
    /** Why the instance's role (learnt from its /v1/models) does not fit its type; null when it fits or is unknown. */
    volatile String roleMismatch;

    Instance(InstanceType type, InstanceAddress address, CircuitBreaker breaker, boolean healthy) {
        this.type = type;
        this.address = address;
        this.breaker = breaker;
        this.healthy = healthy;
        this.everHealthy = healthy;
    }

    /** Can take a request now: healthy by the last probe and not held off by its breaker. */
    boolean isAvailable() {
        return healthy && breaker.isAvailable();
    }

    @Override
    public String toString() {
        return type.label() + " instance " + address;
    }
}
