package dev.pdserve.engine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The prefix cache's KV events, as vLLM's {@code --kv-events-config} publishes them: a block
 * registered under its hash ({@link BlockStored}, with its parent's hash), a registered block
 * evicted ({@link BlockRemoved}), everything dropped ({@link AllCleared}). The engine thread records
 * them as the {@link BlockManager} acts and publishes one numbered batch per step. A subscriber
 * first gets a {@link Snapshot} of every block held, then every batch after it, so its copy is
 * exact; the {@code epoch} changes with every engine, so a copy taken from a previous process of
 * the same address can be told apart and dropped. A subscriber that falls too far behind is cut
 * off (and resubscribes for a fresh snapshot) instead of holding memory.
 */
public final class KvEvents {
    public sealed interface Event permits BlockStored, BlockRemoved, AllCleared {}

    /** {@code parentHash} is {@code BlockHash.NONE} for a prompt's first block. */
    public record BlockStored(long hash, long parentHash, int numTokens) implements Event {}

    public record BlockRemoved(long hash) implements Event {}

    public record AllCleared() implements Event {}

    /** Every block held after batch {@code seq}. */
    public record Snapshot(long epoch, long seq, int blockSize, List<BlockStored> blocks) {}

    /** One engine step's events. */
    public record Batch(long seq, List<Event> events) {}

    /** A no-op log, for a block manager nobody listens to. */
    static final KvEvents OFF = new KvEvents(0, 0);
    static {
        OFF.disable();
    }

    private static final int QUEUE_BATCHES = 4096;

    private final long epoch;
    private final int blockSize;
    private volatile boolean enabled = true;
    /** Engine thread only: this step's events. */
    private ArrayList<Event> pending = new ArrayList<>();
    // Guarded by this: the blocks held as of batch seq, and the subscribers.
    private final LinkedHashMap<Long, BlockStored> held = new LinkedHashMap<>();
    private long seq;
    private final List<Subscription> subscribers = new CopyOnWriteArrayList<>();

    KvEvents(int blockSize) {
        this(blockSize, ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE));
    }

    KvEvents(int blockSize, long epoch) {
        this.blockSize = blockSize;
        this.epoch = epoch;
    }

    public long epoch() { return epoch; }

    public boolean enabled() { return enabled; }

    /** Turns the log off for good (enable_kv_cache_events=false); call before the first request. */
    public synchronized void disable() {
        enabled = false;
        held.clear();
        for (Subscription s : subscribers) s.close();
    }

    void stored(long hash, long parent, int numTokens) {
        if (enabled) pending.add(new BlockStored(hash, parent, numTokens));
    }

    void removed(long hash) {
        if (enabled) pending.add(new BlockRemoved(hash));
    }

    void cleared() {
        if (enabled) pending.add(new AllCleared());
    }

    /** Publishes what this step recorded as one batch (engine thread). */
    void flush() {
        if (pending.isEmpty()) return;
        List<Event> events = List.copyOf(pending);
        pending = new ArrayList<>();
        synchronized (this) {
            if (!enabled) return;
            Batch batch = new Batch(++seq, events);
            for (Event e : events) {
                switch (e) {
                    case BlockStored s -> held.put(s.hash(), s);
                    case BlockRemoved r -> held.remove(r.hash());
                    case AllCleared c -> held.clear();
                }
            }
            for (Subscription s : subscribers) s.offer(batch);
        }
    }

    /** A new subscriber: its snapshot, then the batches after it. Null when the log is off. */
    public synchronized Subscription subscribe() {
        if (!enabled) return null;
        Subscription s = new Subscription(new Snapshot(epoch, seq, blockSize, List.copyOf(held.values())));
        subscribers.add(s);
        return s;
    }

    /** One subscriber's view: close it when done. */
    public final class Subscription implements AutoCloseable {
        private final Snapshot snapshot;
        private final ArrayBlockingQueue<Batch> queue = new ArrayBlockingQueue<>(QUEUE_BATCHES);
        private volatile boolean cut;

        private Subscription(Snapshot snapshot) {
            this.snapshot = snapshot;
        }

        public Snapshot snapshot() { return snapshot; }

        private void offer(Batch b) {
            if (!queue.offer(b)) close(); // too slow: it must resubscribe for a fresh snapshot
        }

        /** The next batch, or null after {@code timeout} with none; false {@link #live()} once cut off. */
        public Batch poll(long timeout, TimeUnit unit) throws InterruptedException {
            return cut ? null : queue.poll(timeout, unit);
        }

        /** False once cut off (too slow, or the log turned off): batches may be missing from here on. */
        public boolean live() { return !cut; }

        @Override
        public void close() {
            cut = true;
            subscribers.remove(this);
        }
    }
}
