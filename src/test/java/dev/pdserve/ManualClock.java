package dev.pdserve;

import dev.pdserve.kv.LeaseTimer;

import java.time.Duration;
import java.util.PriorityQueue;
import java.util.function.LongSupplier;

/**
 * A clock that moves only when the test moves it, for code that takes a nano clock (circuit
 * breakers) or a {@link LeaseTimer} (KV leases). {@link #advance} runs every task that falls due,
 * in time order, on the calling thread: when it returns, whatever was due has happened and nothing
 * else has.
 */
public final class ManualClock implements LongSupplier, LeaseTimer {
    private record Task(long due, long seq, Runnable run) {}

    private final PriorityQueue<Task> tasks = new PriorityQueue<>((a, b) -> a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
    private long now;
    private long seq;

    @Override
    public synchronized long getAsLong() { return now; }

    @Override
    public synchronized void schedule(Runnable task, long delayNanos) {
        tasks.add(new Task(now + Math.max(0, delayNanos), seq++, task));
    }

    /** Moves the clock by {@code d}, running each task due by then (including ones those tasks schedule). */
    public void advance(Duration d) {
        long target;
        synchronized (this) {
            target = now + d.toNanos();
        }
        while (true) {
            Task t;
            synchronized (this) {
                t = tasks.peek();
                if (t == null || t.due > target) {
                    now = target;
                    return;
                }
                tasks.poll();
                now = t.due;
            }
            t.run.run(); // outside the lock: a task may schedule the next one
        }
    }

    /** A manual clock has no thread to stop; tasks of a closed producer find their lease gone. */
    @Override
    public void close() {}
}
