package dev.pdserve.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * vLLM v1's scheduler: no prefill or decode phase, only a token budget per step. Running
 * requests go first (a decode takes one token, an unfinished prefill its next chunk), then
 * waiting ones in arrival order; a prompt longer than what is left of the budget is simply cut,
 * which is chunked prefill. A decoding request may also carry draft tokens (speculative
 * decoding, {@link Drafter}): they count against the budget like any token. When blocks run out the newest running request is preempted: its
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
    private boolean shortOfBlocks;
    private final ArrayList<Request> running = new ArrayList<>();

    private final ScheduledBatch batch = new ScheduledBatch();
    /** Speculative decoding: who proposes drafts (null: none) and at most how many per step. */
    private final Drafter drafter;
    private final int maxDrafts;
    private final int maxModelLen;
    /** A draft's share of a plain step's cost ({@link VerifyCost}), for {@link Acceptance}. */
    double perDraftCost = 1;
    long numPreemptions;

    Scheduler(BlockManager blocks, int maxNumSeqs, int maxBatchedTokens) {
        this(blocks, maxNumSeqs, maxBatchedTokens, null, 0, Integer.MAX_VALUE);
    }

    Scheduler(BlockManager blocks, int maxNumSeqs, int maxBatchedTokens, Drafter drafter, int maxDrafts, int maxModelLen) {
        this.blocks = blocks;
        this.maxNumSeqs = maxNumSeqs;
        this.maxBatchedTokens = maxBatchedTokens;
        this.drafter = drafter;
        this.maxDrafts = drafter == null ? 0 : maxDrafts;
        this.maxModelLen = maxModelLen;
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

    /** The last {@link #schedule()} preempted, or left a waiting request out for want of blocks. */
    boolean wasShortOfBlocks() { return shortOfBlocks; }

    /** Picks this step's work. The batch is this scheduler's own, refilled at each call. */
    ScheduledBatch schedule() {
        batch.clear();
        shortOfBlocks = false;
        int budget = maxBatchedTokens;
        boolean preempted = false;
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Request r = running.get(i);
            int n = Math.min(r.numTokens - r.numComputed, budget);
            if (n <= 0) continue;
            int drafts = n == 1 && r.numComputed + 1 == r.numTokens ? drafts(r, budget - 1) : 0;
            boolean ok;
            while (!(ok = blocks.allocate(r, 0, r.numComputed + n + drafts))) {
                if (drafts > 0) {
                    drafts = 0; // short of memory: decode plainly before preempting anyone
                    continue;
                }
                Request victim = running.removeLast();
                preempt(victim);
                preempted = true;
                shortOfBlocks = true;
                if (victim == r) break;
            }
            if (!ok) break;
            batch.add(r, n + drafts, drafts);
            budget -= n + drafts;
        }
        // vLLM admits no new request in a step that had to preempt: memory is short.
        while (!preempted && budget > 0 && !waiting.isEmpty() && running.size() < maxNumSeqs) {
            Request r = waiting.peekFirst();
            // Prompt logprobs need the logits of every prompt token: a cached prefix would skip them (as in vLLM).
            int cachedBlocks = r.promptLogprobsPending() ? 0 : blocks.findCachedBlocks(r);
            int cachedTokens = cachedBlocks * blocks.blockSize();
            int n = Math.min(r.numTokens - r.numComputed - cachedTokens, budget);
            if (!blocks.allocate(r, cachedBlocks, r.numComputed + cachedTokens + n)) {
                shortOfBlocks = true;
                break;
            }
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

    /**
     * Drafts for a decoding request, written after its last token: as many as its acceptance
     * asks for, within the budget left, and never more than could still become output (so the
     * k + 1 tokens a step may append stay within max_tokens and max-model-len).
     */
    private int drafts(Request r, int budgetLeft) {
        if (drafter == null) return 0;
        int room = Math.min(r.sampling.maxTokens() - r.numOutputTokens(), maxModelLen - r.numTokens) - 1;
        int max = Math.min(Math.min(maxDrafts, budgetLeft), room);
        if (max <= 0) return 0;
        int want = Math.min(max, r.acceptance.draftsFor(maxDrafts, perDraftCost));
        return want <= 0 ? 0 : drafter.propose(r, want);
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
