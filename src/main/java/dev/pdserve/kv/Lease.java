package dev.pdserve.kv;

/**
 * KV blocks a producer keeps for one finished prefill until a consumer pulls and releases them,
 * the lease runs out or the engine aborts the request. {@code free} runs exactly once, and never
 * while the blocks are being sent (the engine could otherwise reuse them under the transfer).
 */
final class Lease {
    final String requestId;
    final int[] blockIds;
    /** {@link PromptHash} of the prompt whose KV this is: a PULL or RELEASE must name the same. */
    final byte[] promptHash;
    /** Order of creation: the oldest lease is reclaimed first when the pool needs blocks. */
    final long seq;
    private final Runnable free;
    private boolean transferring;
    private boolean aborted;
    private boolean freed;

    Lease(String requestId, int[] blockIds, byte[] promptHash, long seq, Runnable free) {
        this.requestId = requestId;
        this.blockIds = blockIds;
        this.promptHash = promptHash;
        this.seq = seq;
        this.free = free;
    }

    /** Why a PULL cannot start now, or null after marking the lease as being sent. */
    synchronized String beginTransfer() {
        if (freed) return "no leased KV for request " + requestId + " (expired or already released)";
        if (aborted) return "request " + requestId + " was aborted on the producer";
        if (transferring) return "KV of request " + requestId + " is already being pulled on another connection";
        transferring = true;
        return null;
    }

    /** Ends a send; true when an abort came in meanwhile and the caller must now free. */
    synchronized boolean endTransfer() {
        transferring = false;
        return aborted && claimFree();
    }

    synchronized boolean isAborted() { return aborted; }

    synchronized boolean isTransferring() { return transferring; }

    /** True once, for the caller that must run {@link #free()}; false while being sent or when already freed. */
    synchronized boolean tryClaimFree() {
        return !transferring && claimFree();
    }

    /** Marks aborted; true when the caller must free now (not being sent). */
    synchronized boolean abort() {
        aborted = true;
        return tryClaimFree();
    }

    private boolean claimFree() {
        if (freed) return false;
        freed = true;
        return true;
    }

    void free() { free.run(); }
}
