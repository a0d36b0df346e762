package dev.pdserve.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that split one range of work at a time (rows of a matmul, heads
 * of attention). The calling thread works too. Workers spin briefly between jobs, because a
 * forward pass dispatches hundreds of small jobs in a row, then park. Dispatch allocates nothing.
 * Not reentrant: one caller at a time (the engine's step loop).
 */
public final class WorkerPool implements AutoCloseable {
    /** A unit of parallel work over indices [from, to); {@code worker} in [0, threads) indexes per-thread scratch. */
    public interface Job {
        void run(int from, int to, int worker);
    }

    private static final long SPIN_NANOS = 100_000;

    private final int threads;
    private final Thread[] workers;
    /**
     * One word per job: generation (32 bits), chunk count (16 bits), next chunk (16 bits). A worker
     * claims a chunk with one CAS on the whole word, so a worker still looking at the previous job
     * can never claim a chunk of the next one: the count it compares with is part of the word,
     * not a field the caller may already have overwritten.
     */
    private final AtomicLong claim = new AtomicLong();
    private static final int MAX_CHUNKS = 0xFFFF;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile boolean closed;
    private volatile Throwable failure;
    private int generation;
    private Job job;
    private int size;
    private int chunk;

    public WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int worker = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("pdserve-worker-" + worker).start(() -> loop(worker));
        }
    }

    public int threads() { return threads; }

    /** Runs {@code job} over [0, n) in chunks of at least {@code grain} indices; returns when all are done. */
    public void run(Job job, int n, int grain) {
        if (n <= 0) return;
        int target = threads * 4;
        int c = Math.max(Math.max(1, grain), (n + target - 1) / target);
        c = Math.max(c, (n + MAX_CHUNKS - 1) / MAX_CHUNKS);
        int chunks = (n + c - 1) / c;
        if (threads == 1 || chunks == 1) {
            job.run(0, n, 0);
            return;
        }
        this.job = job;
        this.size = n;
        this.chunk = c;
        pending.set(chunks);
        generation++;
        claim.set(((long) generation << 32) | ((long) chunks << 16)); // volatile write publishes the job fields
        for (Thread w : workers) LockSupport.unpark(w);
        work(0, generation);
        while (pending.get() > 0) Thread.onSpinWait();
        this.job = null;
        Throwable t = failure;
        if (t != null) {
            failure = null;
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
        }
    }

    private void work(int worker, int gen) {
        while (true) {
            long v = claim.get();
            int index = (int) (v & 0xFFFF), chunks = (int) ((v >>> 16) & 0xFFFF);
            if ((int) (v >>> 32) != gen || index >= chunks) return;
            if (!claim.compareAndSet(v, v + 1)) continue;
            int from = index * chunk;
            try {
                job.run(from, Math.min(size, from + chunk), worker);
            } catch (Throwable t) {
                failure = t;
            } finally {
                pending.decrementAndGet();
            }
        }
    }

    private void loop(int worker) {
        int seen = 0;
        while (!closed) {
            long deadline = System.nanoTime() + SPIN_NANOS;
            int gen;
            while ((gen = (int) (claim.get() >>> 32)) == seen && !closed) {
                if (System.nanoTime() < deadline) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            seen = gen;
            if (!closed) work(worker, gen);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
