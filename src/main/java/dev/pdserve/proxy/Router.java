package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.prefix.BlockHash;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a request goes (Dynamo's KV router, llm-d's prefix scorer, SGLang's cache-aware router, on the
 * proxy's exact {@link PrefixIndex}). {@code --routing}: {@code least-loaded} (prefill by pending prompt
 * tokens, decode by active requests), {@code round-robin}, or {@code kv-aware}: the prompt's full blocks
 * are hashed as the instances hash them, a prefill instance costs the prompt tokens it would have to
 * compute plus the prompt tokens queued on it, a decode instance its active requests, then its KV use.
 * With kv-aware routing, a request whose part not cached on the best decode instance is at most
 * {@code --prefill-threshold} tokens is prefilled by that decode instance itself: a remote prefill
 * would cost more (two hops and a transfer) than it saves.
 */
final class Router {
    enum Policy {
        LEAST_LOADED, ROUND_ROBIN, KV_AWARE;

        static Policy parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--routing must be least-loaded, round-robin or kv-aware, got '" + s + "'");
            }
        }

        String label() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }
    }

    /** Prefilled on a prefill instance and pulled, or prefilled where it is decoded. */
    enum Path {
        DISAGGREGATED, DECODE_ONLY;

        String label() { return this == DISAGGREGATED ? "disaggregated" : "decode-only"; }
    }

    /**
     * One request's route: the path, the order to try instances in, and what the index knew.
     * {@code hits} are leading prompt blocks each instance holds; {@code queriedBlocks} is 0 when the
     * prompt was not hashed.
     */
    record Route(Path path, Comparator<Instance> prefillOrder, Comparator<Instance> decodeOrder,
                 Map<Instance, Integer> hits, int queriedBlocks, String decodeReason) {
        int hits(Instance i) { return hits.getOrDefault(i, 0); }
    }

    private static final Comparator<Instance> KEEP_ROTATION = (a, b) -> 0;

    private final Policy policy;
    private final int prefillThreshold;
    private final InstancePool pool;
    private final PrefixIndex index;
    private final PromptTokenizer tokenizer;

    Router(Policy policy, int prefillThreshold, InstancePool pool, PrefixIndex index, PromptTokenizer tokenizer) {
        this.policy = policy;
        this.prefillThreshold = prefillThreshold;
        this.pool = pool;
        this.index = index;
        this.tokenizer = tokenizer;
    }

    Policy policy() { return policy; }

    Route route(String apiPath, ObjectNode body, Upstream.Forward fwd) throws InterruptedException {
        if (policy == Policy.ROUND_ROBIN) return new Route(Path.DISAGGREGATED, KEEP_ROTATION, KEEP_ROTATION, Map.of(), 0, "round_robin");
        if (policy == Policy.LEAST_LOADED) return leastLoaded();
        List<Instance> all = new ArrayList<>(pool.list(InstanceType.PREFILL));
        all.addAll(pool.list(InstanceType.DECODE));
        // No instance publishes KV events (vLLM, or events off): nothing to match a prompt against.
        if (all.stream().noneMatch(index::tracks)) return leastLoaded();
        int[] tokens = tokenizer.tokens(apiPath, body, fwd);
        if (tokens == null) return leastLoaded();
        Map<Integer, long[]> chains = new HashMap<>(); // per block size: instances may differ
        Map<Instance, Integer> hits = new HashMap<>();
        int queried = 0;
        for (Instance i : all) {
            int bs = index.blockSize(i);
            if (bs <= 0) continue;
            // As the engine looks up: whole blocks, leaving at least one prompt token to compute.
            long[] chain = chains.computeIfAbsent(bs, b -> BlockHash.chain(tokens, (tokens.length - 1) / b, b));
            queried = Math.max(queried, chain.length);
            hits.put(i, index.leadingBlocks(i, chain));
        }
        int n = tokens.length;
        Comparator<Instance> prefill = Comparator.comparingLong((Instance i) -> uncached(n, i, hits) + i.pendingPromptTokens.get())
                .thenComparingDouble(i -> i.kvCacheUsage);
        Comparator<Instance> decodeByLoad = InstancePool.leastLoaded(InstanceType.DECODE);
        Instance local = null;
        if (prefillThreshold > 0) {
            for (Instance d : pool.list(InstanceType.DECODE)) {
                if (!d.isAvailable() || uncached(n, d, hits) > prefillThreshold) continue;
                if (local == null || decodeByLoad.compare(d, local) < 0) local = d;
            }
        }
        if (local == null) return new Route(Path.DISAGGREGATED, prefill, decodeByLoad, hits, queried, "least_loaded");
        // Decode instances that can prefill it cheaply first, then by load.
        Comparator<Instance> decodeOnly = Comparator.comparingInt((Instance d) -> uncached(n, d, hits) > prefillThreshold ? 1 : 0)
                .thenComparing(decodeByLoad);
        return new Route(Path.DECODE_ONLY, prefill, decodeOnly, hits, queried, hits.getOrDefault(local, 0) > 0 ? "decode_prefix" : "short_prompt");
    }

    private static Route leastLoaded() {
        return new Route(Path.DISAGGREGATED, null, null, Map.of(), 0, "least_loaded");
    }

    private int uncached(int n, Instance i, Map<Instance, Integer> hits) {
        return Math.max(0, n - hits.getOrDefault(i, 0) * Math.max(1, index.blockSize(i)));
    }

    /** Why a prefill instance was chosen. */
    String prefillReason(Route r, Instance chosen) {
        if (policy == Policy.ROUND_ROBIN) return "round_robin";
        return r.hits(chosen) > 0 ? "prefix_hit" : "least_loaded";
    }
}
