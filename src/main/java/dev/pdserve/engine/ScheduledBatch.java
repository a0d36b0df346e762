package dev.pdserve.engine;

import java.util.Arrays;

/**
 * One step's work as {@link Scheduler#schedule()} picked it: each request with how many new
 * tokens it feeds ({@code tokens[numComputed, numComputed + n)}) and whether the step samples
 * its next token (the span reaches its last known token, so its logits are the ones to sample
 * from; a prefill chunk that does not is computed only), and how many logits rows it gets: one
 * when it samples, every new token's while a request that asked for prompt logprobs prefills
 * (rows in batch order, each entry's sampling row its last). The scheduler owns one batch and refills
 * it each step, so nothing is allocated per step; it is valid until the next {@code schedule()}.
 */
final class ScheduledBatch {
    private Request[] requests = new Request[16];
    private int[] numTokens = new int[16];
    private boolean[] samples = new boolean[16];
    private int[] logitRows = new int[16];
    private int[] rowStart = new int[16];
    private int size;
    private int numRows;
    private int totalTokens;

    int size() { return size; }

    boolean isEmpty() { return size == 0; }

    Request request(int i) { return requests[i]; }

    /** New tokens request {@code i} feeds this step. */
    int numTokens(int i) { return numTokens[i]; }

    /** Whether request {@code i} gets a token sampled this step (it has a logits row). */
    boolean samples(int i) { return samples[i]; }

    /** Logits rows of request {@code i}: 0, 1 (its sampling row), or all its new tokens' (prompt logprobs). */
    int logitRows(int i) { return logitRows[i]; }

    /** Index of request {@code i}'s first logits row. */
    int rowStart(int i) { return rowStart[i]; }

    /** Tokens over all requests: what the forward computes. */
    int totalTokens() { return totalTokens; }

    void clear() {
        Arrays.fill(requests, 0, size, null);
        size = 0;
        totalTokens = 0;
        numRows = 0;
    }

    /** Adds {@code r}'s next {@code n} tokens (after its {@code numComputed}, which must be final for this step). */
    void add(Request r, int n) {
        if (size == requests.length) {
            requests = Arrays.copyOf(requests, size * 2);
            numTokens = Arrays.copyOf(numTokens, size * 2);
            samples = Arrays.copyOf(samples, size * 2);
            logitRows = Arrays.copyOf(logitRows, size * 2);
            rowStart = Arrays.copyOf(rowStart, size * 2);
        }
        requests[size] = r;
        numTokens[size] = n;
        samples[size] = r.numComputed + n == r.numTokens;
        logitRows[size] = r.promptLogprobsPending() ? n : samples[size] ? 1 : 0;
        rowStart[size] = numRows;
        numRows += logitRows[size];
        size++;
        totalTokens += n;
    }
}
