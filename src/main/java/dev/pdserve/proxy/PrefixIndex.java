package dev.pdserve.proxy;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which instance holds which prefix block: an exact copy of every instance's prefix cache, kept from
 * its KV events ({@link KvEventSubscriber}). Each instance's copy starts from a snapshot and is
 * tagged with the instance's epoch; events of another epoch or out of sequence are refused (the
 * subscriber then resubscribes), and a lost stream drops the instance's copy, so a restarted
 * instance never keeps the blocks of its previous life.
 */
final class PrefixIndex {
    /** One instance's copy. */
    private static final class Copy {
        final long epoch;
        final int blockSize;
        long seq;
        final Set<Long> hashes = new HashSet<>();

        Copy(long epoch, int blockSize, long seq) {
            this.epoch = epoch;
            this.blockSize = blockSize;
            this.seq = seq;
        }
    }

    /** An event as the subscriber parsed it: stored (true) or removed (false) hashes; {@code cleared} first. */
    record Change(boolean cleared, List<Long> stored, List<Long> removed) {}

    private final Map<Long, Set<Instance>> holders = new HashMap<>();
    private final Map<Instance, Copy> copies = new HashMap<>();

    /** Replaces the instance's copy by a snapshot. */
    synchronized void snapshot(Instance i, long epoch, int blockSize, long seq, List<Long> hashes) {
        drop(i);
        Copy c = new Copy(epoch, blockSize, seq);
        copies.put(i, c);
        for (long h : hashes) add(i, c, h);
    }

    /**
     * Applies batch {@code seq} of the instance's events. False, changing nothing, when it does not
     * follow the copy (another epoch, or a batch missed): the caller must resubscribe.
     */
    synchronized boolean apply(Instance i, long epoch, long seq, List<Change> changes) {
        Copy c = copies.get(i);
        if (c == null || c.epoch != epoch || seq != c.seq + 1) return false;
        c.seq = seq;
        for (Change ch : changes) {
            if (ch.cleared()) {
                for (long h : c.hashes) remove(i, h);
                c.hashes.clear();
            }
            for (long h : ch.removed()) if (c.hashes.remove(h)) remove(i, h);
            for (long h : ch.stored()) add(i, c, h);
        }
        return true;
    }

    /** Forgets the instance's copy (stream lost, instance removed). */
    synchronized void drop(Instance i) {
        Copy c = copies.remove(i);
        if (c == null) return;
        for (long h : c.hashes) remove(i, h);
    }

    /** Whether the instance's copy is current (a snapshot taken and its stream alive). */
    synchronized boolean tracks(Instance i) { return copies.containsKey(i); }

    /** The instance's epoch, or 0 when it has no copy. */
    synchronized long epoch(Instance i) {
        Copy c = copies.get(i);
        return c == null ? 0 : c.epoch;
    }

    /** The instance's block size, or 0 when it has no copy. */
    synchronized int blockSize(Instance i) {
        Copy c = copies.get(i);
        return c == null ? 0 : c.blockSize;
    }

    /** How many blocks of the chain, from its start, the instance holds. */
    synchronized int leadingBlocks(Instance i, long[] chain) {
        Copy c = copies.get(i);
        if (c == null) return 0;
        int n = 0;
        while (n < chain.length && c.hashes.contains(chain[n])) n++;
        return n;
    }

    /** Instances holding a block (tests). */
    synchronized Set<Instance> holders(long hash) {
        Set<Instance> s = holders.get(hash);
        return s == null ? Set.of() : Set.copyOf(s);
    }

    synchronized int size(Instance i) {
        Copy c = copies.get(i);
        return c == null ? 0 : c.hashes.size();
    }

    private void add(Instance i, Copy c, long h) {
        if (c.hashes.add(h)) holders.computeIfAbsent(h, k -> new HashSet<>()).add(i);
    }

    private void remove(Instance i, long h) {
        Set<Instance> s = holders.get(h);
        if (s != null && s.remove(i) && s.isEmpty()) holders.remove(h);
    }
}
