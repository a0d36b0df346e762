package dev.pdserve.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * vLLM v1's scheduler: no prefill or decode phase, only a token budget per step. Running
 * requests go first (a decode takes one token, an unfinished prefill its next chunk), then
 * waiting ones in arrival order; a prompt longer than what is left of the budget is simply cut,
 * which is chunked prefill. When blocks run out the newest running request is preempted: its
 * blocks are freed and it goes back to the front of the queue to be recomputed (prompt and
 * generated tokens alike) later.
 *
 * <p>Everything hangs on two explicit numbers per request, which is what KV transfer builds on:
 * {@code numBlocks} (what {@link BlockManager#allocate} handed out) and {@code numComputed}
 * (tokens whose KV is in those blocks). A request whose first N prompt tokens were loaded from
 * another instance is one that got {@code allocate(r, 0, N)}, had the blocks filled, and then
 * {@code numComputed = N} before {@link #add}: prefill simply continues from N. Such a request
 * waits in {@link KvTransfers} until then.
 */
final class Scheduler {
    private final BlockManager blocks;
    private final int maxNumSeqs;
    private final int maxBatchedTokens;
    private final ArrayDeque<Request> waiting = new ArrayDeque<>();
    private final ArrayList<Request> running = new ArrayList<>();

    private final ScheduledBatch batch = new ScheduledBatch();
    long numPreemptions;

    Scheduler(BlockManager blocks, int maxNumSeqs, int maxBatchedTokens) {
        this.blocks = blocks;
        this.maxNumSeqs = maxNumSeqs;
        this.maxBatchedTokens = maxBatchedTokens;
    }

    void add(Request r) { waiting.addLast(r); }

    int numWaiting() { return waiting.size(); }

    int numRunning() { return running.size(); }

    boolean hasWork() { return !waiting.isEmpty() || !running.isEmpty(); }

    /** Every live request, running first (a copy). */
    List<Request> all() {
        ArrayList<Request> all = new ArrayList<>(running);
        all.addAll(waiting);
        return all;
    }

    /** The batch of the last {@link #schedule()} (as far as it got, should it have thrown). */
    ScheduledBatch lastBatch() { return batch; }

    /** Picks this step's work. The batch is this scheduler's own, refilled at each call. */
    ScheduledBatch schedule() {
        batch.clear();
        int budget = maxBatchedTokens;
        boolean preempted = false;
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Request r = running.get(i);
            int n = Math.min(r.numTokens - r.numComputed, budget);
            if (n <= 0) continue;
            boolean ok;
            while (!(ok = blocks.allocate(r, 0, r.numComputed + n))) {
                Request victim = running.removeLast();
                preempt(victim);
                preempted = true;
                if (victim == r) break;
            }
            if (!ok) break;
            batch.add(r, n);
            budget -= n;
        }
        // vLLM admits no new request in a step that had to preempt: memory is short.
        while (!preempted && budget > 0 && !waiting.isEmpty() && running.size() < maxNumSeqs) {
            Request r = waiting.peekFirst();
            // Prompt logprobs need the logits of every prompt token: a cached prefix would skip them (as in vLLM).
            int cachedBlocks = r.promptLogprobsPending() ? 0 : blocks.findCachedBlocks(r);
            int cachedTokens = cachedBlocks * blocks.blockSize();
            int n = Math.min(r.numTokens - r.numComputed - cachedTokens, budget);
            if (!blocks.allocate(r, cachedBlocks, r.numComputed + cachedTokens + n)) break;
            blocks.recordPrefixLookup(r.numTokens, cachedTokens);
            if (!r.everScheduled) {
                r.everScheduled = true;
                r.scheduledNanos = System.nanoTime();
                r.cachedPromptTokens = Math.min(cachedTokens, r.numPromptTokens);
            }
            r.numComputed += cachedTokens;
            r.numRegisteredBlocks = cachedBlocks;
            waiting.pollFirst();
            running.add(r);
            batch.add(r, n);
            budget -= n;
        }
        return batch;
    }

    /** Removes a finished or aborted request and frees its blocks. */
    void remove(Request r) {
        if (!running.remove(r)) waiting.remove(r);
        blocks.free(r);
    }

    /** Finds a live request by id (for abort), or null. */
    Request find(String id) {
        for (Request r : running) if (r.id.equals(id)) return r;
        for (Request r : waiting) if (r.id.equals(id)) return r;
        return null;
    }

    private void preempt(Request r) {
        blocks.free(r);
        r.numComputed = 0;
        waiting.addFirst(r);
        numPreemptions++;
    }
}
