package dev.pdserve.proxy;

import java.util.function.LongSupplier;

/**
 * Per-instance circuit breaker. CLOSED lets every request through; {@code threshold} consecutive
 * failures OPEN it; after {@code cooldown} one probe request is let through (HALF_OPEN): its success
 * closes the breaker, its failure opens it for another cool-down.
 */
final class CircuitBreaker {
    enum State { CLOSED, OPEN, HALF_OPEN }

    private final int threshold;
    private final long cooldownNanos;
    private final LongSupplier nanoClock;
    private State state = State.CLOSED;
    private int consecutiveFailures;
    private long openedAt;
    private boolean probeInFlight;

    CircuitBreaker(int threshold, long cooldownNanos, LongSupplier nanoClock) {
        this.threshold = Math.max(1, threshold);
        this.cooldownNanos = cooldownNanos;
        this.nanoClock = nanoClock;
    }

    /** Whether {@link #tryAcquire()} would succeed now; no side effect, used to rank candidates. */
    synchronized boolean isAvailable() {
        return switch (state) {
            case CLOSED -> true;
            case OPEN -> nanoClock.getAsLong() - openedAt >= cooldownNanos;
            case HALF_OPEN -> !probeInFlight;
        };
    }

    /** Claims the right to send one request; in HALF_OPEN only one probe may be in flight. */
    synchronized boolean tryAcquire() {
        switch (state) {
            case CLOSED:
                return true;
            case OPEN:
                if (nanoClock.getAsLong() - openedAt < cooldownNanos) return false;
                state = State.HALF_OPEN;
                probeInFlight = true;
                return true;
            default:
                if (probeInFlight) return false;
                probeInFlight = true;
                return true;
        }
    }

    synchronized void onSuccess() {
        consecutiveFailures = 0;
        probeInFlight = false;
        state = State.CLOSED;
    }

    synchronized void onFailure() {
        consecutiveFailures++;
        probeInFlight = false;
        if (state == State.HALF_OPEN || consecutiveFailures >= threshold) {
            state = State.OPEN;
            openedAt = nanoClock.getAsLong();
        }
    }

    /** The request ended without telling whether the instance works (e.g. the client went away). */
    synchronized void onNoVerdict() {
        probeInFlight = false;
    }

    synchronized State state() {
        return state;
    }

    synchronized int consecutiveFailures() {
        return consecutiveFailures;
    }
}
