package dev.pdserve.kv;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * When a producer's leases run out. {@link #system()} goes by the wall clock on one daemon thread;
 * tests pass a clock they move by hand, so a lease expires when the test says so, not after a sleep.
 */
public interface LeaseTimer extends AutoCloseable {
    /** Runs {@code task} once, {@code delayNanos} from now. */
    void schedule(Runnable task, long delayNanos);

    /** Stops the timer's thread, if it has one; tasks not run yet are dropped. */
    @Override
    void close();

    /** The wall clock, with one daemon thread (started at the first task). */
    static LeaseTimer system() {
        ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("pdserve-kv-leases").factory());
        return new LeaseTimer() {
            @Override
            public void schedule(Runnable task, long delayNanos) { timers.schedule(task, delayNanos, TimeUnit.NANOSECONDS); }

            @Override
            public void close() { timers.shutdownNow(); }
        };
    }
}
