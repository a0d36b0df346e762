package dev.pdserve.engine;

import java.util.Arrays;

/**
 * What {@link Sampler#sample} picked for one step, by batch entry: the token and, when the
 * request asked for them, its logprobs (else null); entries the step does not sample hold no
 * token (-1), and an entry whose sampling threw holds its exception instead ({@link #failure}).
 * The sampler owns one and refills it each step; valid until the next call.
 */
final class SamplerOutput {
    static final int NO_TOKEN = -1;

    private int[] tokens = new int[16];
    private TokenLogprob[] logprobs = new TokenLogprob[16];
    private RuntimeException[] failures = new RuntimeException[16];

    int token(int i) { return tokens[i]; }

    TokenLogprob logprob(int i) { return logprobs[i]; }

    /** Why entry {@code i} has no token, or null when it was sampled (or not meant to be). */
    RuntimeException failure(int i) { return failures[i]; }

    void reset(int size) {
        if (tokens.length < size) {
            tokens = new int[Math.max(size, tokens.length * 2)];
            logprobs = new TokenLogprob[tokens.length];
            failures = new RuntimeException[tokens.length];
        }
        Arrays.fill(tokens, 0, size, NO_TOKEN);
        Arrays.fill(logprobs, 0, size, null);
        Arrays.fill(failures, 0, size, null);
    }

    void fail(int i, RuntimeException e) {
        tokens[i] = NO_TOKEN;
        logprobs[i] = null;
        failures[i] = e;
    }

    void set(int i, int token, TokenLogprob logprob) {
        tokens[i] = token;
        logprobs[i] = logprob;
    }
}
