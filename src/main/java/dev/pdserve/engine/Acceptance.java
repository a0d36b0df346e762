package dev.pdserve.engine;

/**
 * One request's speculation control: how many drafts to propose next, from how many it had
 * accepted lately. With a per-draft acceptance rate {@code a}, a run of drafts survives for
 * {@code a / (1 - a)} tokens on average, so it proposes one more than that (up to k). Two
 * verifications in a row that accept nothing pause drafting for 1, 2, 4, ... up to 32 steps,
 * so a request with nothing to copy decodes almost as cheaply as without speculation.
 */
final class Acceptance {
    static final int MAX_PAUSE = 32;

    /** Smoothed share of proposed drafts accepted; starts optimistic. */
    private double rate = 1.0;
    private int pause;
    private int backoff = 1;
    private int misses;

    /** Drafts to propose this step, at most {@code k}; 0 while paused. */
    int draftsFor(int k) {
        if (pause > 0) {
            pause--;
            return 0;
        }
        if (rate >= 0.9) return k;
        double run = rate / (1 - rate);
        return (int) Math.max(1, Math.min(k, Math.ceil(run) + 1));
    }

    /** A verification of {@code proposed} drafts accepted {@code accepted} of them. */
    void record(int proposed, int accepted) {
        rate = 0.75 * rate + 0.25 * accepted / proposed;
        if (accepted > 0) {
            misses = 0;
            backoff = 1;
        } else if (++misses >= 2) {
            misses = 0;
            pause = backoff;
            backoff = Math.min(backoff * 2, MAX_PAUSE);
        }
    }

    double rate() { return rate; }
}
