package dev.pdserve.bench;

import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicInteger;

/** A tqdm-like line on stderr: done/total, a bar, elapsed time and rate; redrawn at most 10 times a second. */
final class ProgressBar {
    private final PrintStream out;
    private final int total;
    private final long startNanos = System.nanoTime();
    private final AtomicInteger done = new AtomicInteger();
    private volatile long lastDraw;

    ProgressBar(PrintStream out, int total) {
        this.out = out;
        this.total = total;
        draw(0);
    }

    void step() {
        int d = done.incrementAndGet();
        long now = System.nanoTime();
        if (d == total || now - lastDraw > 100_000_000L) {
            lastDraw = now;
            draw(d);
        }
    }

    void close() {
        draw(done.get());
        out.println();
        out.flush();
    }

    private synchronized void draw(int d) {
        double secs = (System.nanoTime() - startNanos) / 1e9;
        int width = 40, filled = total == 0 ? width : (int) ((long) d * width / total);
        String bar = "█".repeat(filled) + " ".repeat(width - filled);
        out.printf("\r%3d%%|%s| %d/%d [%s, %.2f req/s]", total == 0 ? 100 : d * 100 / total, bar, d, total,
                clock(secs), secs > 0 ? d / secs : 0.0);
        out.flush();
    }

    private static String clock(double secs) {
        long s = (long) secs;
        return String.format("%02d:%02d", s / 60, s % 60);
    }
}
