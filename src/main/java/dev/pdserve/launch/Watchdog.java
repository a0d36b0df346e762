package dev.pdserve.launch;

import java.time.Duration;

/** Runs an action once {@code after} has passed, unless closed first: the upper bound on a whole run. */
final class Watchdog implements AutoCloseable {
    private final Thread thread;

    Watchdog(Duration after, Runnable action) {
        thread = Thread.ofVirtual().name("pdserve-watchdog").start(() -> {
            try {
                Thread.sleep(after);
            } catch (InterruptedException closed) {
                return;
            }
            action.run();
        });
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
