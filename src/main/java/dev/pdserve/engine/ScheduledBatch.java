package dev.pdserve.engine;

import java.util.Arrays;

/**
 * One step's work as {@link Scheduler#schedule()} picked it: each request with how many new
 * tokens it feeds ({@code tokens[numComputed, numComputed + n)}) and whether the step samples
 * its next token (the span reaches its last known token, so its logits are the ones to sample
 * from; a prefill chunk that does not is computed only). A speculating request's span also holds
 * its draft tokens, written past its last token, one logits row each. The scheduler owns one batch and refills
 * it each step, so nothing is allocated per step; it is valid until the next {@code schedule()}.
 */
final class ScheduledBatch {
    private Request[] requests = new Request[16];
    private int[] numTokens = new int[16];
    private boolean[] samples = new boolean[16];
    private int[] numDrafts = new int[16];
    private int size;
    private int totalTokens;

    int size() { return size; }

    boolean isEmpty() { return size == 0; }

    Request request(int i) { return requests[i]; }

    /** New tokens request {@code i} feeds this step. */
    int numTokens(int i) { return numTokens[i]; }

    /** Whether request {@code i} gets a token sampled this step (it has a logits row). */
    boolean samples(int i) { return samples[i]; }

    /** Draft tokens among request {@code i}'s new tokens (its last ones): the step verifies them. */
    int numDrafts(int i) { return numDrafts[i]; }

    /** Logits rows of request {@code i}: one per draft plus one when it samples, else none. */
    int logitRows(int i) { return samples[i] ? numDrafts[i] + 1 : 0; }

    /** Tokens over all requests: what the forward computes. */
    int totalTokens() { return totalTokens; }

    void clear() {
        Arrays.fill(requests, 0, size, null);
        size = 0;
        totalTokens = 0;
    }

    /** Adds {@code r}'s next {@code n} tokens (after its {@code numComputed}, which must be final for this step). */
    void add(Request r, int n) { add(r, n, 0); }

    /**
     * Adds {@code r}'s pending token and the {@code drafts} draft tokens written after its last
     * token ({@code n} counts both).
     */
    void add(Request r, int n, int drafts) {
        if (size == requests.length) {
            requests = Arrays.copyOf(requests, size * 2);
            numTokens = Arrays.copyOf(numTokens, size * 2);
            samples = Arrays.copyOf(samples, size * 2);
            numDrafts = Arrays.copyOf(numDrafts, size * 2);
        }
        requests[size] = r;
        numTokens[size] = n;
        samples[size] = r.numComputed + n - drafts == r.numTokens;
        numDrafts[size] = drafts;
        size++;
        totalTokens += n;
    }
}
