package dev.pdserve.engine;

/**
 * One request's speculation control: how many drafts to propose next. It estimates the chance
 * {@code a} that a draft is accepted given the one before it was (accepted drafts over accepted
 * plus rejections, decayed), so d drafts are worth {@code 1 + a + ... + a^d} tokens for a step
 * that costs {@code 1 + d * perDraftCost} plain steps (measured by {@link VerifyCost}). It
 * proposes the d that pays best, or none when nothing pays; then it only probes now and then
 * (after 1, 2, 4, ... up to 64 steps), so a request with nothing to copy decodes at almost the
 * speed of plain decoding.
 */
final class Acceptance {
    static final int MAX_PAUSE = 64;
    /** Speculate only when the expected gain per step beats plain decoding by this much. */
    static final double MIN_GAIN = 1.05;
    private static final double DECAY = 0.8;

    private double accepted = 2, rejected = 1; // a prior of a = 2/3: worth a first try
    private int pause;
    private int backoff = 1;

    /** Drafts to propose this step, at most {@code k}; 0 while paused or when drafting does not pay. */
    int draftsFor(int k, double perDraftCost) {
        if (pause > 0) {
            pause--;
            return 0;
        }
        double a = accepted / (accepted + rejected);
        int best = 0;
        double bestGain = 1, tokens = 1, term = 1;
        for (int d = 1; d <= k; d++) {
            term *= a;
            tokens += term;
            double gain = tokens / (1 + d * perDraftCost);
            if (gain > bestGain) {
                bestGain = gain;
                best = d;
            }
        }
        if (bestGain >= MIN_GAIN) return best;
        // Not worth it by the estimate: probe with one draft after a pause that grows while probes fail.
        pause = backoff;
        backoff = Math.min(backoff * 2, MAX_PAUSE);
        return 1;
    }

    /** A verification of {@code proposed} drafts accepted the first {@code accepted} of them. */
    void record(int proposed, int acceptedNow) {
        accepted = DECAY * accepted + acceptedNow;
        rejected = DECAY * rejected + (acceptedNow < proposed ? 1 : 0);
        if (acceptedNow > 0) backoff = 1;
    }

    /** The estimated chance that a draft is accepted after an accepted one. */
    double rate() { return accepted / (accepted + rejected); }
}
