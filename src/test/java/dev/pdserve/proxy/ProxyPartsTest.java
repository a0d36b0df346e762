package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The proxy's parts on their own: balancing, breaker, prompt sizes, address lists, metric and stream parsing. */
class ProxyPartsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void breakerOpensAfterThresholdLetsOneProbeThroughAfterCooldownAndClosesOnSuccess() {
        AtomicLong now = new AtomicLong();
        CircuitBreaker b = new CircuitBreaker(3, 1_000, now::get);
        assertThat(b.tryAcquire()).isTrue();
        b.onFailure();
        b.onFailure();
        b.onSuccess(); // a success resets the count
        for (int i = 0; i < 2; i++) b.onFailure();
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);
        b.onFailure();
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(b.isAvailable()).isFalse();
        assertThat(b.tryAcquire()).isFalse();

        now.set(1_000);
        assertThat(b.isAvailable()).isTrue();
        assertThat(b.tryAcquire()).isTrue(); // the probe
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        assertThat(b.tryAcquire()).isFalse(); // only one probe at a time
        b.onFailure();
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN); // a failed probe reopens at once
        assertThat(b.tryAcquire()).isFalse();

        now.set(2_000);
        assertThat(b.tryAcquire()).isTrue();
        b.onNoVerdict(); // the probe's client went away: another probe may go
        assertThat(b.tryAcquire()).isTrue();
        b.onSuccess();
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(b.consecutiveFailures()).isZero();
    }

    @Test
    void prefillGoesToFewestPendingTokensDecodeToFewestActiveTiesByKvUsage() {
        InstancePool pool = new InstancePool(5, 1_000_000_000L, System::nanoTime);
        Instance p1 = pool.add(InstanceType.PREFILL, InstanceAddress.parse("h:1"), true);
        Instance p2 = pool.add(InstanceType.PREFILL, InstanceAddress.parse("h:2"), true);
        assertThat(pool.add(InstanceType.PREFILL, InstanceAddress.parse("h:1"), true)).isNull();

        InstancePool.Booking big = pool.acquire(InstanceType.PREFILL, Set.of(), 1000);
        Instance other = big.instance == p1 ? p2 : p1;
        // Three small prompts still fit under the big one.
        for (int i = 0; i < 3; i++) assertThat(pool.acquire(InstanceType.PREFILL, Set.of(), 100).instance).isSameAs(other);
        assertThat(other.pendingPromptTokens.get()).isEqualTo(300);
        big.success();
        assertThat(big.instance.pendingPromptTokens.get()).isZero();
        assertThat(big.instance.activeRequests.get()).isZero();
        assertThat(pool.acquire(InstanceType.PREFILL, Set.of(), 1).instance).isSameAs(big.instance);

        Instance d1 = pool.add(InstanceType.DECODE, InstanceAddress.parse("h:3"), true);
        Instance d2 = pool.add(InstanceType.DECODE, InstanceAddress.parse("h:4"), true);
        d1.kvCacheUsage = 0.9;
        d2.kvCacheUsage = 0.1;
        InstancePool.Booking first = pool.acquire(InstanceType.DECODE, Set.of(), 0);
        assertThat(first.instance).isSameAs(d2); // equal active requests: the emptier KV cache wins
        assertThat(pool.acquire(InstanceType.DECODE, Set.of(), 0).instance).isSameAs(d1); // then fewer active requests
        // A retry prefers an instance the request has not tried.
        assertThat(pool.acquire(InstanceType.DECODE, Set.of(d1), 0).instance).isSameAs(d2);
        d2.healthy = false;
        assertThat(pool.acquire(InstanceType.DECODE, Set.of(d1), 0).instance).isSameAs(d1); // only d1 left, tried or not
        d1.healthy = false;
        assertThat(pool.acquire(InstanceType.DECODE, Set.of(), 0)).isNull();
        assertThat(pool.remove(InstanceType.DECODE, InstanceAddress.parse("H:3"))).isSameAs(d1);
    }

    @Test
    void promptTokensCountIdsExactlyAndEstimateText() throws Exception {
        assertThat(PdRequests.promptTokens(JSON.readTree("{\"prompt\":[1,2,3,4,5]}"))).isEqualTo(5);
        assertThat(PdRequests.promptTokens(JSON.readTree("{\"prompt\":[[1,2],[3]]}"))).isEqualTo(3);
        assertThat(PdRequests.promptTokens(JSON.readTree("{\"prompt\":\"abcdefgh\"}"))).isEqualTo(2);
        assertThat(PdRequests.promptTokens(JSON.readTree("{\"prompt\":[\"abcd\",\"abcde\"]}"))).isEqualTo(3);
        assertThat(PdRequests.promptTokens(JSON.readTree(
                "{\"messages\":[{\"role\":\"user\",\"content\":\"abcdefgh\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"abcd\"}]}]}")))
                .isEqualTo(4 + 2 + 4 + 1);
        assertThat(PdRequests.promptTokens(JSON.readTree("{}"))).isEqualTo(1);
    }

    @Test
    void hostsAndPortsExpandLikeVllmAscend() {
        assertThat(InstanceAddress.expand(List.of("a", "b"), List.of(1, 2), "decoder")).containsExactly(
                new InstanceAddress("a", 1), new InstanceAddress("b", 2));
        assertThat(InstanceAddress.expand(List.of("a"), List.of(1, 2, 3), "decoder")).hasSize(3).allMatch(a -> a.host().equals("a"));
        assertThat(InstanceAddress.expand(List.of("a", "b"), List.of(7), "decoder")).containsExactly(
                new InstanceAddress("a", 7), new InstanceAddress("b", 7));
        assertThatThrownBy(() -> InstanceAddress.expand(List.of("a", "b"), List.of(1, 2, 3), "prefiller"))
                .hasMessageContaining("number of prefiller hosts (2) must match number of prefiller ports (3)");
        assertThat(InstanceAddress.parse("[::1]:8000").uri("/health").toString()).isEqualTo("http://[::1]:8000/health");
        assertThat(InstanceAddress.parse("localhost:80").sameAs(InstanceAddress.parse("127.0.0.1:80"))).isTrue();
        assertThatThrownBy(() -> InstanceAddress.parse("host")).hasMessageContaining("not host:port");
        assertThatThrownBy(() -> InstanceAddress.parse("host:x")).hasMessageContaining("not a number");
    }

    @Test
    void kvCacheUsageIsReadFromPrometheusText() {
        String text = """
                # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
                # TYPE vllm:kv_cache_usage_perc gauge
                vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.125
                vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.5
                vllm:kv_cache_usage_perc_other 0.9
                vllm:num_requests_running{engine="0"} 3.0
                """;
        assertThat(HealthMonitor.kvCacheUsage(text)).isEqualTo(0.5);
        assertThat(HealthMonitor.kvCacheUsage("vllm:gpu_cache_usage_perc 0.3\n")).isEqualTo(0.3);
        assertThat(HealthMonitor.kvCacheUsage("nothing here")).isEqualTo(-1);
    }

    @Test
    void streamTailTellsDoneFromACutStream() {
        StreamTail t = new StreamTail();
        assertThat(t.atEventBoundary()).isTrue();
        add(t, "data: {\"choices\":[{\"text\":\"" + "x".repeat(100) + "\"}]}\n\n");
        assertThat(t.endsWithDone()).isFalse();
        assertThat(t.atEventBoundary()).isTrue();
        add(t, "data: {\"cho");
        assertThat(t.atEventBoundary()).isFalse();
        add(t, "ices\":[]}\n\ndata: [DO");
        add(t, "NE]\n\n");
        assertThat(t.endsWithDone()).isTrue();
        add(t, "data: {}\r\n\r\n");
        assertThat(t.endsWithDone()).isFalse();
        assertThat(t.atEventBoundary()).isTrue();
    }

    private static void add(StreamTail t, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        t.add(b, 0, b.length);
    }
}
