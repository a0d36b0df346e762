package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The engine's side of PD disaggregation (engine thread only). A remote-prefill request
 * (consumer) waits here until its prompt's KV is in: first for blocks, then for its pull (vLLM's
 * WAITING_FOR_REMOTE_KVS), and only then goes to the scheduler. A finished remote-decode prompt
 * (producer) leases its blocks here. The connector works off the engine thread and reports back
 * through {@code post}, which puts a {@link PullEnded} or {@link LeaseEnded} into the engine's inbox.
 */
final class KvTransfers implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KvTransfers.class.getName());

    /** A remote prefill's pull ended; {@code failure} null on success. */
    record PullEnded(Request request, KvConnector.PullFailure failure) {}

    /** A KV lease ended (released, expired, aborted): its blocks go back to the pool. */
    record LeaseEnded(int[] blockIds) {}

    /** What became of a request whose pull ended. */
    enum Outcome {
        /** Its KV is in (or, with kv_load_failure_policy=recompute, it will prefill locally): schedule it. */
        READY,
        /** The pull failed and the policy is fail: its blocks are freed; answer it with the error. */
        FAILED,
        /** It was aborted while pulling (its abort output went out then): its blocks are freed now. */
        DROPPED
    }

    private final KvConnector connector;
    private final BlockManager blocks;
    private final Consumer<Object> post;
    private final ArrayDeque<Request> waitingForBlocks = new ArrayDeque<>();
    private final ArrayList<Request> pulling = new ArrayList<>();
    /** Aborted while their pull runs: the pull writes into their blocks, which are freed when it ends. */
    private final ArrayList<Request> cancelled = new ArrayList<>();
    /** A pulling request's other samples, which share its blocks once they are in. */
    private final Map<Request, List<Request>> followers = new IdentityHashMap<>();

    /** {@code connector} null: colocated, nothing is ever transferred. */
    KvTransfers(KvConnector connector, BlockManager blocks, Consumer<Object> post) {
        this.connector = connector;
        this.blocks = blocks;
        this.post = post;
    }

    /** Validates a request's kv_transfer_params (any thread); {@link KvConnector#NONE} without a connector. */
    KvConnector.Plan plan(JsonNode kvTransferParams, int[] promptTokens) {
        return connector == null ? KvConnector.NONE : connector.plan(kvTransferParams, promptTokens);
    }

    /** Remote-prefill requests not scheduled yet, including aborted ones whose pull still runs. */
    int numWaiting() {
        int n = waitingForBlocks.size() + pulling.size() + cancelled.size();
        for (List<Request> samples : followers.values()) n += samples.size();
        return n;
    }

    /** Queues a remote-prefill request (in arrival order) for its prompt's blocks and pull. */
    void add(Request r) { waitingForBlocks.addLast(r); }

    /**
     * Queues a remote-prefill request whose other samples (n > 1, same prompt) wait for its pull
     * and then share the pulled blocks instead of pulling again.
     */
    void add(Request leader, List<Request> samples) {
        add(leader);
        if (!samples.isEmpty()) followers.put(leader, new ArrayList<>(samples));
    }

    /** The samples waiting for {@code leader}'s pull (empty when none). */
    List<Request> followersOf(Request leader) { return followers.getOrDefault(leader, List.of()); }

    /** Gives waiting requests their prompt's blocks, in arrival order as blocks allow, and starts their pulls. */
    void startPulls() {
        while (!waitingForBlocks.isEmpty()) {
            Request r = waitingForBlocks.peekFirst();
            if (!blocks.allocate(r, 0, r.numPromptTokens)) {
                reclaimLease(); // kv_both: our own leases may hold the blocks it waits for
                return;
            }
            waitingForBlocks.pollFirst();
            pulling.add(r);
            connector.pull(r.kvPlan, Arrays.copyOf(r.blockTable, r.numBlocks), failure -> post.accept(new PullEnded(r, failure)));
        }
    }

    /**
     * A pull ended. On success all but the last prompt token count as computed, so the first step
     * feeds that one token and samples from its logits (what colocated prefill computes for it,
     * bit for bit); on failure the policy decides.
     */
    Outcome pullEnded(PullEnded ended) {
        Request r = ended.request();
        List<Request> samples = followers.remove(r);
        if (!pulling.remove(r)) {
            cancelled.remove(r);
            blocks.free(r);
            return Outcome.DROPPED;
        }
        if (ended.failure() == null) {
            // Prompt logprobs need every prompt token's logits: such a request prefills here after all.
            r.numComputed = r.promptLogprobsPending() ? 0 : r.numPromptTokens - 1;
            if (samples != null && r.numComputed > 0) for (Request f : samples) share(r, f);
            return Outcome.READY;
        }
        // A refusal that is the request's fault (another prompt's KV) is answered, never recomputed.
        if (connector.recomputeOnFailure() && ended.failure().status() >= 500) {
            LOG.warning("request " + r.id + ": " + ended.failure().message() + "; kv_load_failure_policy=recompute, prefilling locally");
            r.numComputed = 0;
            return Outcome.READY;
        }
        blocks.free(r);
        return Outcome.FAILED;
    }

    /**
     * A pulled prompt's other sample takes the leader's full prompt blocks (their own reference
     * each) and computes from there: at most a block's worth of prompt tokens, and the blocks it
     * writes are its own.
     */
    private void share(Request leader, Request sample) {
        int full = leader.numComputed / blocks.blockSize();
        blocks.retain(Arrays.copyOf(leader.blockTable, full));
        System.arraycopy(leader.blockTable, 0, sample.blockTable, 0, full);
        sample.numBlocks = full;
        sample.numRegisteredBlocks = full;
        sample.numComputed = full * blocks.blockSize();
    }

    /**
     * Takes a not yet scheduled request out, with the samples waiting for it (each must be
     * answered as aborted); empty when none has that id.
     */
    List<Request> abort(String id) {
        for (Request r : waitingForBlocks) if (r.id.equals(id)) return withSamples(abort(r));
        for (Request r : pulling) if (r.id.equals(id)) return withSamples(abort(r));
        for (List<Request> samples : followers.values()) {
            for (Request f : samples) {
                if (f.id.equals(id)) {
                    samples.remove(f);
                    return List.of(f);
                }
            }
        }
        return List.of();
    }

    private List<Request> withSamples(Request leader) {
        List<Request> all = new ArrayList<>();
        all.add(leader);
        List<Request> samples = followers.remove(leader);
        if (samples != null) all.addAll(samples);
        return all;
    }

    /** Takes every request out (closing); each must be answered as aborted. */
    List<Request> abortAll() {
        List<Request> all = new ArrayList<>(waitingForBlocks);
        all.addAll(pulling);
        for (Request r : all) abort(r);
        for (List<Request> samples : followers.values()) all.addAll(samples);
        followers.clear();
        return all;
    }

    private Request abort(Request r) {
        // A running pull writes into the request's blocks: they are freed when it ends (pullEnded), and it releases the lease.
        if (waitingForBlocks.remove(r)) connector.release(r.kvPlan); // the producer gets its blocks back now, not at expiry
        else if (pulling.remove(r)) cancelled.add(r);
        return r;
    }

    /** The scheduler is short of blocks: a lease of ours that nobody pulled yet goes first. */
    boolean reclaimLease() { return connector != null && connector.reclaimLease(); }

    /**
     * Leases a finished remote-decode prompt's blocks and returns the kv_transfer_params that
     * point at them (null when the lease cannot be made: the blocks are not kept). The lease takes
     * its own reference on each prompt block, so a prefix block shared with other requests stays
     * valid while leased and the request's own references are dropped as usual.
     */
    JsonNode lease(Request r) {
        int[] ids = Arrays.copyOf(r.blockTable, Math.min(blocks.blocksFor(r.numPromptTokens), r.numBlocks));
        blocks.retain(ids);
        try {
            return connector.lease(r.id, ids, Arrays.copyOf(r.tokens, r.numPromptTokens), () -> post.accept(new LeaseEnded(ids)));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot lease the KV of request " + r.id + "; freeing it", e);
            blocks.free(ids, ids.length);
            return null;
        }
    }

    void leaseEnded(LeaseEnded ended) {
        int[] ids = ended.blockIds();
        try {
            blocks.free(ids, ids.length);
        } catch (IllegalStateException e) {
            // A bug, but one that must not stop the step loop every other request depends on.
            LOG.log(Level.SEVERE, "freeing leased KV blocks " + Arrays.toString(ids) + " failed", e);
        }
    }

    /** The connector's role, or null without one. */
    String role() { return connector == null ? null : connector.role(); }

    /** The connector's counters, or null without one. */
    KvConnector.Stats stats() { return connector == null ? null : connector.stats(); }

    @Override
    public void close() {
        if (connector != null) connector.close();
    }
}
