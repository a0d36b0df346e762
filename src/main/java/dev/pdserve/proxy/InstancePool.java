package dev.pdserve.proxy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;

/**
 * The prefill and decode instances, and the least-loaded choice among them. Prefill goes to the
 * instance with the fewest pending prompt tokens, decode to the one with the fewest active requests;
 * ties are broken by KV cache usage, then round-robin.
 */
final class InstancePool {
    private final List<Instance> prefill = new CopyOnWriteArrayList<>();
    private final List<Instance> decode = new CopyOnWriteArrayList<>();
    private final int breakerThreshold;
    private final long breakerCooldownNanos;
    private final LongSupplier nanoClock;
    private final int[] roundRobin = new int[InstanceType.values().length]; // per type, so that one type's picks do not steer the other's

    InstancePool(int breakerThreshold, long breakerCooldownNanos, LongSupplier nanoClock) {
        this.breakerThreshold = breakerThreshold;
        this.breakerCooldownNanos = breakerCooldownNanos;
        this.nanoClock = nanoClock;
    }

    List<Instance> list(InstanceType type) {
        return type == InstanceType.PREFILL ? prefill : decode;
    }

    /** Adds an instance; returns null when it is already in the pool. */
    synchronized Instance add(InstanceType type, InstanceAddress address, boolean healthy) {
        if (find(type, address) != null) return null;
        Instance i = new Instance(type, address, new CircuitBreaker(breakerThreshold, breakerCooldownNanos, nanoClock), healthy);
        list(type).add(i);
        return i;
    }

    /** Removes an instance for new requests; requests already on it finish. Returns null when unknown. */
    synchronized Instance remove(InstanceType type, InstanceAddress address) {
        Instance i = find(type, address);
        if (i != null) list(type).remove(i);
        return i;
    }

    Instance find(InstanceType type, InstanceAddress address) {
        for (Instance i : list(type)) if (i.address.sameAs(address)) return i;
        return null;
    }

    boolean anyAvailable(InstanceType type) {
        for (Instance i : list(type)) if (i.isAvailable()) return true;
        return false;
    }

    /**
     * Picks the least-loaded available instance, preferring ones this request has not tried yet, and
     * books the load on it. Returns null when no instance of the type is available.
     */
    synchronized Booking acquire(InstanceType type, Set<Instance> tried, long promptTokens) {
        List<Instance> fresh = new ArrayList<>();
        List<Instance> retried = new ArrayList<>();
        for (Instance i : list(type)) if (i.isAvailable()) (tried.contains(i) ? retried : fresh).add(i);
        List<Instance> candidates = fresh.isEmpty() ? retried : fresh;
        if (candidates.isEmpty()) return null;
        // Rotate before the stable sort so that equal loads take turns.
        int shift = Math.floorMod(roundRobin[type.ordinal()]++, candidates.size());
        List<Instance> rotated = new ArrayList<>(candidates.subList(shift, candidates.size()));
        rotated.addAll(candidates.subList(0, shift));
        rotated.sort(type == InstanceType.PREFILL ? BY_PREFILL_LOAD : BY_DECODE_LOAD);
        for (Instance i : rotated) {
            if (!i.breaker.tryAcquire()) continue;
            i.pendingPromptTokens.addAndGet(promptTokens);
            i.activeRequests.incrementAndGet();
            return new Booking(i, promptTokens);
        }
        return null;
    }

    private static final Comparator<Instance> BY_PREFILL_LOAD = Comparator
            .comparingLong((Instance i) -> i.pendingPromptTokens.get())
            .thenComparingDouble(i -> i.kvCacheUsage);
    private static final Comparator<Instance> BY_DECODE_LOAD = Comparator
            .comparingInt((Instance i) -> i.activeRequests.get())
            .thenComparingDouble(i -> i.kvCacheUsage);

    /** The load one request books on one instance, released once, and its one verdict for the breaker. */
    static final class Booking {
        final Instance instance;
        private final long promptTokens;
        private boolean released;
        private boolean judged;

        Booking(Instance instance, long promptTokens) {
            this.instance = instance;
            this.promptTokens = promptTokens;
        }

        private void release() {
            if (released) return;
            released = true;
            instance.pendingPromptTokens.addAndGet(-promptTokens);
            instance.activeRequests.decrementAndGet();
        }

        void success() {
            release();
            if (judged) return;
            judged = true;
            instance.lastError = null;
            instance.breaker.onSuccess();
        }

        void failure(String cause) {
            release();
            if (judged) return;
            judged = true;
            instance.lastError = cause;
            instance.breaker.onFailure();
        }

        /** The request ended without showing whether the instance works (e.g. the client went away). */
        void noVerdict() {
            release();
            if (judged) return;
            judged = true;
            instance.breaker.onNoVerdict();
        }
    }
}
