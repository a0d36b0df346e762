package dev.pdserve.engine;

import java.util.Arrays;

/**
 * One step's work as {@link Scheduler#schedule()} picked it: each request with how many new
 * tokens it feeds ({@code tokens[numComputed, numComputed + n)}) and whether the step samples
 * its next token (the span reaches its last known token, so its logits are the ones to sample
 * from; a prefill chunk that does not is computed only). A speculating request's span also holds
 * its draft tokens, written past its last token. Each request asks the forward for logits rows of
 * the last N positions of its span: drafts + 1 when it samples (the sampling rows, last of all),
 * every new token's while it prefills with prompt logprobs asked for; rows come in batch order.
 * The scheduler owns one batch and refills it each step, so nothing is allocated per step; it is
 * valid until the next {@code schedule()}.
 */
final class ScheduledBatch {
    private Request[] requests = new Request[16];
    private int[] numTokens = new int[16];
    private boolean[] samples = new boolean[16];
    private int[] numDrafts = new int[16];
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

    /** Draft tokens among request {@code i}'s new tokens (its last ones): the step verifies them. */
    int numDrafts(int i) { return numDrafts[i]; }

    /** Logits rows of request {@code i}: those of the last positions of its span (see the class comment). */
    int logitRows(int i) { return logitRows[i]; }

    /** Index of request {@code i}'s first logits row. */
    int rowStart(int i) { return rowStart[i]; }

    /** Index of request {@code i}'s first sampling row: {@code numDrafts(i) + 1} rows, the last of its rows. */
    int samplingRow(int i) { return rowStart[i] + logitRows[i] - numDrafts[i] - 1; }

    /** Tokens over all requests: what the forward computes. */
    int totalTokens() { return totalTokens; }

    void clear() {
        Arrays.fill(requests, 0, size, null);
        size = 0;
        totalTokens = 0;
        numRows = 0;
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
            logitRows = Arrays.copyOf(logitRows, size * 2);
            rowStart = Arrays.copyOf(rowStart, size * 2);
        }
        requests[size] = r;
        numTokens[size] = n;
        samples[size] = r.numComputed + n - drafts == r.numTokens;
        numDrafts[size] = drafts;
        int sampling = samples[size] ? drafts + 1 : 0;
        logitRows[size] = r.promptLogprobsPending() ? Math.max(n, sampling) : sampling;
        rowStart[size] = numRows;
        numRows += logitRows[size];
        size++;
        totalTokens += n;
    }
}
