package dev.pdserve;

import java.time.Duration;

/**
 * The one way tests wait for what another thread or process does: poll a condition until it holds,
 * or fail naming what was awaited. Never a fixed sleep: a test that must show something did not
 * happen drives the clock ({@link ManualClock}) or holds the other side until it has looked.
 */
public final class Await {
    /** Long enough for a loaded machine; only a failing test waits this long. */
    public static final Duration TIMEOUT = Duration.ofSeconds(30);

    private Await() {}

    /** A condition that may do I/O (an HTTP scrape, a file read); an exception fails the wait at once. */
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Returns as soon as {@code condition} holds; throws an AssertionError after {@link #TIMEOUT}. */
    public static void until(String what, Condition condition) throws Exception {
        until(what, TIMEOUT, condition);
    }

    public static void until(String what, Duration timeout, Condition condition) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pauseMillis = 1;
        while (!condition.holds()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            Thread.sleep(pauseMillis);
            pauseMillis = Math.min(50, pauseMillis * 2); // quick for fast events, light on a loaded machine
        }
    }
}
