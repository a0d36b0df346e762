package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.KvCache;
import dev.pdserve.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The serving engine: one platform thread runs the step loop (take new requests and aborts,
 * schedule, one forward over every scheduled span, sample, append each token and check its stop
 * rules, send outputs). All the engine's state belongs to that thread; other threads talk to it
 * through a queue. The parts: {@link Scheduler} (with {@link BlockManager}) picks a
 * {@link ScheduledBatch}, {@link ModelRunner} runs it, {@link Sampler} picks the tokens,
 * {@link StopRules} ends requests, {@link KvTransfers} holds PD disaggregation's pulls and leases.
 * With {@link SpeculativeConfig speculative decoding} a {@link Drafter} proposes tokens that the
 * same forward verifies.
 */
public final class Engine implements InferenceEngine {
    private static final Logger LOG = Logger.getLogger(Engine.class.getName());

    private final CausalLM model;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final TokenDecoder.Factory decoders;
    private final PagedKvCache cache;
    private final BlockManager blocks;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    private final Sampler sampler;
    private final StopRules stops;
    private final KvTransfers kv;
    private final KvEvents kvEvents;
    private final int vocab;

    private final ConcurrentLinkedQueue<Object> inbox = new ConcurrentLinkedQueue<>();
    private final ConcurrentHashMap<String, Boolean> liveIds = new ConcurrentHashMap<>();
    private final AtomicLong seedCounter = new AtomicLong();
    private final Thread loop;
    private volatile boolean draining;
    private volatile boolean closed;
    private volatile IntConsumer iterationListener = tokens -> {};
    private boolean closedFromSink;

    // Gauges and counters, written by the loop thread only, read by stats().
    private volatile int numRunning, numWaiting, numUsedBlocks;
    private volatile long promptTokens, generationTokens, computedTokens;
    private volatile long prefixQueries, prefixHits, preemptions;
    /** Speculative decoding's counters (vLLM's spec_decode metrics); per-position ones are written by the loop only. */
    private final int maxDrafts;
    private volatile long specDrafts, specDraftTokens, specAccepted;
    private final long[] specAcceptedPerPos;

    private record Abort(String requestId) {}

    /** The n samples of one remote-prefill prompt (see {@link #submitSamples}). */
    private record Samples(List<Request> requests) {}

    public Engine(CausalLM model, Tokenizer tokenizer, EngineConfig config) {
        this(model, tokenizer, config, TokenDecoder.of(tokenizer), null);
    }

    /** With a KV connector for PD disaggregation, built over the engine's KV cache. */
    public Engine(CausalLM model, Tokenizer tokenizer, EngineConfig config, Function<KvCache, KvConnector> connector) {
        this(model, tokenizer, config, TokenDecoder.of(tokenizer), connector);
    }

    Engine(CausalLM model, Tokenizer tokenizer, EngineConfig config, TokenDecoder.Factory decoders) {
        this(model, tokenizer, config, decoders, null);
    }

    /** With a custom detokenizer (tests drive the engine with models that have no tokenizer). */
    Engine(CausalLM model, Tokenizer tokenizer, EngineConfig config, TokenDecoder.Factory decoders, Function<KvCache, KvConnector> connector) {
        if (config.blockSize() < 1 || config.maxNumSeqs() < 1 || config.maxNumBatchedTokens() < 1 || config.maxModelLen() < 1) {
            throw new IllegalArgumentException("block size, max-num-seqs, max-num-batched-tokens and max-model-len must be positive: " + config);
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        this.decoders = decoders;
        this.vocab = model.vocabSize();
        int numBlocks = PagedKvCache.numBlocksFor(config, model.numLayers(), model.kvEntryFloats());
        this.cache = new PagedKvCache(model.numLayers(), numBlocks, config.blockSize(), model.kvEntryFloats());
        LOG.info(String.format("KV cache: %d blocks of %d tokens (%d tokens, %.1f MiB, layout %s), prefix caching %s",
                numBlocks, config.blockSize(), (long) numBlocks * config.blockSize(),
                numBlocks * PagedKvCache.blockBytes(model.numLayers(), config.blockSize(), model.kvEntryFloats()) / 1048576.0,
                model.kvLayout(), config.enablePrefixCaching() ? "on" : "off"));
        this.blocks = new BlockManager(numBlocks, config.blockSize(), config.enablePrefixCaching());
        SpeculativeConfig spec = config.speculative();
        Drafter drafter = spec == null ? null : switch (spec.method()) {
            case NGRAM -> new NgramDrafter(spec.promptLookupMin(), spec.promptLookupMax());
            case MTP -> throw new IllegalArgumentException("--speculative-config method " + spec.method().wire() + " is not implemented yet");
        };
        this.maxDrafts = drafter == null ? 0 : spec.numSpeculativeTokens();
        this.specAcceptedPerPos = new long[maxDrafts];
        if (drafter != null) LOG.info("speculative decoding: " + spec);
        this.kvEvents = new KvEvents(config.blockSize());
        blocks.publishTo(kvEvents);
        this.scheduler = new Scheduler(blocks, config.maxNumSeqs(), config.maxNumBatchedTokens(), drafter, maxDrafts, config.maxModelLen());
        this.runner = new ModelRunner(model, cache);
        if (drafter != null) scheduler.perDraftCost = VerifyCost.measure(model, cache, 0, maxDrafts);
        this.sampler = new Sampler(vocab, model.config().eosTokenIds());
        this.stops = new StopRules(model.config().eosTokenIds(), config.maxModelLen());
        this.kv = new KvTransfers(connector == null ? null : connector.apply(cache), blocks, this::post);
        this.loop = new Thread(this::runLoop, "pdserve-engine");
        loop.setDaemon(true);
        loop.start();
    }

    @Override
    public void submit(GenerationRequest request, OutputSink sink) {
        post(prepare(request, sink));
    }

    /** A remote-prefill group goes in as one message: its first sample pulls, the others wait for it and share its blocks. */
    @Override
    public void submitSamples(List<GenerationRequest> samples, OutputSink sink) {
        List<Request> group = new ArrayList<>();
        try {
            for (GenerationRequest g : samples) group.add(prepare(g, sink));
        } catch (RuntimeException e) {
            for (Request r : group) liveIds.remove(r.id);
            throw e;
        }
        if (group.size() > 1 && group.getFirst().kvPlan.kind() == KvConnector.Kind.REMOTE_PREFILL) post(new Samples(group));
        else group.forEach(this::post);
    }

    /** Validates a request and makes its engine state (any thread); the caller posts it. */
    private Request prepare(GenerationRequest request, OutputSink sink) {
        if (draining || closed) throw new EngineException(503, null, "the engine is shutting down and takes no new requests");
        validate(request);
        SamplingParams p = request.sampling();
        long seed = p.seed() != null ? p.seed() ^ 0x2545F4914F6CDD1DL : config.seed() * 0x9E3779B97F4A7C15L + seedCounter.incrementAndGet();
        OutputText text = new OutputText(decoders.create(request.promptIds(), p.skipSpecialTokens()), p.stop(), p.includeStopStrInOutput());
        KvConnector.Plan plan = kv.plan(request.kvTransferParams(), request.promptIds());
        Request r = new Request(request.requestId(), request.promptIds(), p, sink, config.blockSize(), seed, text);
        r.kvPlan = plan;
        if (liveIds.putIfAbsent(r.id, Boolean.TRUE) != null) {
            throw new EngineException(400, "request_id", "request id '" + r.id + "' is already running");
        }
        return r;
    }

    /** The request rules every engine checks, then what only this one knows: its KV pool's size. */
    private void validate(GenerationRequest q) {
        q.validate(vocab, config.maxModelLen());
        int tokens = q.promptIds().length + q.sampling().maxTokens();
        int need = blocks.blocksFor(tokens);
        if (need > blocks.numBlocks()) {
            throw EngineException.badRequest("max_tokens", "the request needs up to " + need + " KV blocks (" + tokens
                    + " tokens) but the KV cache has only " + blocks.numBlocks() + " blocks of " + config.blockSize() + " tokens");
        }
    }

    @Override
    public void abort(String requestId) {
        if (requestId == null || !liveIds.containsKey(requestId)) return;
        post(new Abort(requestId));
    }

    /** Hands a message to the loop thread (from any thread) and wakes it. */
    private void post(Object message) {
        inbox.add(message);
        LockSupport.unpark(loop);
    }

    @Override
    public EngineStats stats() {
        int total = blocks.numBlocks();
        int used = numUsedBlocks;
        return new EngineStats(numRunning, numWaiting, (double) used / total, total, used,
                promptTokens, generationTokens, prefixQueries, prefixHits, preemptions);
    }

    @Override
    public void onIteration(IntConsumer tokens) { iterationListener = tokens; }

    /** Tests: take a draft's cost as {@code c} of a plain step instead of the measured one (call before submitting). */
    void assumeDraftCost(double c) { scheduler.perDraftCost = c; }

    /** Tokens fed through the model so far (prefix-cache hits are not fed); for tests and benchmarks. */
    long numComputedTokens() { return computedTokens; }

    @Override public EngineConfig config() { return config; }

    @Override
    public SpecDecodeStats specStats() {
        if (maxDrafts == 0) return null;
        long[] perPos = new long[maxDrafts];
        for (int i = 0; i < maxDrafts; i++) perPos[i] = specAcceptedPerPos[i];
        return new SpecDecodeStats(specDrafts, specDraftTokens, specAccepted, perPos);
    }

    @Override public KvConnector.Stats kvStats() { return kv.stats(); }

    @Override public String kvRole() { return kv.role(); }

    @Override public KvEvents kvEvents() { return kvEvents; }

    @Override public CausalLM model() { return model; }

    @Override public Tokenizer tokenizer() { return tokenizer; }

    @Override
    public void drain() {
        draining = true;
        if (Thread.currentThread() == loop) throw new IllegalStateException("drain() from an output sink would wait for itself");
        while (!liveIds.isEmpty() && loop.isAlive()) {
            LockSupport.parkNanos(2_000_000);
        }
    }

    /** Stops the loop, aborting what still runs, and frees the KV pool. The model and tokenizer stay open (the caller owns them). */
    @Override
    public void close() {
        if (closed) return;
        draining = true;
        closed = true;
        LockSupport.unpark(loop);
        if (Thread.currentThread() == loop) {
            closedFromSink = true; // the loop ends after this step and frees the pool itself
            return;
        }
        boolean interrupted = false;
        while (loop.isAlive()) {
            try {
                loop.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        kv.close();
        cache.close();
        if (interrupted) Thread.currentThread().interrupt();
    }

    // ---- the step loop (engine thread only below this line) ----

    private void runLoop() {
        while (!closed) {
            takeInbox();
            kv.startPulls();
            publish();
            if (!scheduler.hasWork()) {
                if (inbox.isEmpty()) LockSupport.park(this);
                continue;
            }
            try {
                step();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.SEVERE, "engine step failed; failing its requests", e);
                fail(scheduler.lastBatch(), e);
            }
        }
        // Closing: whatever is still queued or running ends as aborted.
        takeInbox();
        for (Request r : scheduler.all()) abort(r);
        for (Request r : kv.abortAll()) answerAborted(r);
        publish();
        if (closedFromSink) {
            kv.close();
            cache.close();
        }
    }

    private void takeInbox() {
        Object m;
        while ((m = inbox.poll()) != null) {
            if (m instanceof Request r) {
                if (r.kvPlan.kind() == KvConnector.Kind.REMOTE_PREFILL) kv.add(r); else scheduler.add(r);
            } else if (m instanceof Samples(List<Request> group)) {
                kv.add(group.getFirst(), group.subList(1, group.size()));
            } else if (m instanceof Abort(String id)) {
                Request r = scheduler.find(id);
                if (r != null) abort(r);
                else kv.abort(id).forEach(this::answerAborted);
            } else if (m instanceof KvTransfers.LeaseEnded ended) {
                kv.leaseEnded(ended);
            } else if (m instanceof KvTransfers.PullEnded ended) {
                Request r = ended.request();
                List<Request> followers = kv.followersOf(r);
                switch (kv.pullEnded(ended)) {
                    case READY -> {
                        scheduler.add(r);
                        followers.forEach(scheduler::add); // sharing the pulled blocks (KvTransfers.share)
                    }
                    case FAILED -> {
                        KvConnector.PullFailure pf = ended.failure();
                        for (Request f : concat(r, followers)) {
                            liveIds.remove(f.id);
                            emit(f, RequestOutput.error(f.id, pf.status(), pf.message() + (pf.status() >= 500 ? " (kv_load_failure_policy=fail)" : ""),
                                    f.numPromptTokens, f.numOutputTokens(), f.cachedPromptTokens, f.scheduledNanos));
                        }
                    }
                    case DROPPED -> followers.forEach(this::answerAborted); // the leader was answered when it was aborted
                }
            }
        }
    }

    private static List<Request> concat(Request first, List<Request> rest) {
        List<Request> all = new ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    /** One step: schedule, the forward, sample, then each request's new token. */
    private void step() {
        ScheduledBatch batch = scheduler.schedule();
        // Leases nobody pulled yet must not starve new work: the oldest goes (its blocks come back through the inbox).
        if (scheduler.wasShortOfBlocks()) kv.reclaimLease();
        if (batch.isEmpty()) {
            // Only possible while memory is held elsewhere (a KV lease): wait for it to be freed.
            LockSupport.parkNanos(1_000_000);
            return;
        }
        // The forward is shared: if it throws, runLoop fails the whole batch (no request can be told apart).
        float[] logits = runner.run(batch);
        computedTokens += batch.totalTokens();
        for (int i = 0; i < batch.size(); i++) if (batch.request(i).promptLogprobsPending()) promptLogprobs(batch, i, logits);
        SamplerOutput sampled = sampler.sample(batch, logits);
        long countedBefore = promptTokens + generationTokens;
        for (int i = 0; i < batch.size(); i++) {
            Request r = batch.request(i);
            int drafts = batch.numDrafts(i);
            // From here on each request is on its own: sampling or detokenizing that throws fails it alone.
            try {
                r.numComputed += batch.numTokens(i) - drafts;
                blocks.cacheComputedBlocks(r);
                if (drafts > 0) {
                    verify(r, drafts, logits, batch.samplingRow(i));
                } else if (batch.samples(i)) {
                    if (sampled.failure(i) != null) throw sampled.failure(i);
                    appendToken(r, sampled.token(i), sampled.logprob(i));
                }
            } catch (RuntimeException e) {
                failOne(r, e);
            }
        }
        // The prompt and generation counters move only in appendToken: their growth is this step's count.
        int iterationTokens = (int) (promptTokens + generationTokens - countedBefore);
        if (iterationTokens > 0) {
            try {
                iterationListener.accept(iterationTokens);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "iteration listener failed", e);
            }
        }
    }

    /** Fills request {@code i}'s prompt logprobs from its rows: the row at position p scores prompt token p + 1. */
    private void promptLogprobs(ScheduledBatch batch, int i, float[] logits) {
        Request r = batch.request(i);
        int k = r.sampling.numPromptLogprobs(vocab);
        for (int j = 0; j < batch.logitRows(i); j++) {
            int target = r.numComputed + j + 1;
            if (target >= r.numPromptTokens || r.promptLogprobs[target] != null) continue;
            r.promptLogprobs[target] = sampler.logprob(logits, (batch.rowStart(i) + j) * vocab, r.tokens[target], k);
            r.numPromptLogprobs++;
        }
    }

    /**
     * Takes a speculating request's drafts in order while the target model agrees (each verified
     * against the row before it, with every earlier accepted token already appended, so
     * penalties, min_tokens and stop rules see what plain decoding would), then the target's own
     * token: the correction of the first rejected draft, or the bonus after the last. Accepted
     * drafts' KV was written by this forward and now belongs to the sequence; the slots past it
     * are rolled back, and blocks that held only those are freed.
     */
    private void verify(Request r, int drafts, float[] logits, int row) {
        int accepted = 0;
        boolean done = false;
        for (int j = 0; j <= drafts && !done; j++) {
            int draft = j < drafts ? r.tokens[r.numTokens] : Sampler.NO_DRAFT; // read before append overwrites it
            int token = sampler.verify(logits, (row + j) * vocab, r, draft);
            boolean ok = token == draft;
            if (ok) {
                accepted++;
                specAcceptedPerPos[j]++;
                r.numComputed++;
            }
            done = appendToken(r, token, sampler.lastLogprob());
            if (!ok) break;
        }
        r.acceptance.record(drafts, accepted);
        specDrafts++;
        specDraftTokens += drafts;
        specAccepted += accepted;
        if (!done) {
            blocks.cacheComputedBlocks(r);
            blocks.trim(r, r.numTokens);
        }
    }

    /** Appends a sampled token, checks the stop rules and sends the output; true when the request finished. */
    private boolean appendToken(Request r, int token, TokenLogprob logprob) {
        r.append(token);
        generationTokens++;
        int out = r.numOutputTokens();
        if (out == 1) promptTokens += r.numPromptTokens;
        boolean done = stops.check(r, token);
        String delta = r.text.takeDelta(done); // detokenizes: if it throws, the request is still running and fails alone
        JsonNode kvParams = done ? finish(r, true) : null;
        RequestOutput o = RequestOutput.token(r.id, token, delta, logprob, r.numPromptTokens, out, r.cachedPromptTokens, r.scheduledNanos);
        if (out == 1 && r.promptLogprobs != null) o = o.withPromptLogprobs(Arrays.asList(r.promptLogprobs));
        emit(r, done ? o.finish(r.finishReason, r.stopReason, kvParams) : o);
        return done;
    }

    /**
     * A request is done: its blocks go back to the pool. A prefill for a remote decode
     * ({@code do_remote_decode}) that ended normally first leases its prompt's blocks and returns
     * the {@code kv_transfer_params} that point at them.
     */
    private JsonNode finish(Request r, boolean normalEnd) {
        JsonNode kvParams = normalEnd && r.kvPlan.kind() == KvConnector.Kind.REMOTE_DECODE ? kv.lease(r) : null;
        scheduler.remove(r);
        liveIds.remove(r.id);
        publish();
        return kvParams;
    }

    private void abort(Request r) {
        scheduler.remove(r);
        publish();
        answerAborted(r);
    }

    private void answerAborted(Request r) {
        liveIds.remove(r.id);
        emit(r, RequestOutput.abort(r.id, r.numPromptTokens, r.numOutputTokens(), r.cachedPromptTokens, r.scheduledNanos));
    }

    /** Sampling or detokenizing one request threw: it ends with the error and its blocks are freed; the batch goes on. */
    private void failOne(Request r, RuntimeException e) {
        LOG.log(Level.SEVERE, "request " + r.id + " failed in sampling or detokenization; the other requests go on", e);
        if (!liveIds.containsKey(r.id)) return; // already finished and answered
        finish(r, false);
        emit(r, RequestOutput.error(r.id, 500, RequestOutput.REQUEST_FAULT + e,
                r.numPromptTokens, r.numOutputTokens(), r.cachedPromptTokens, r.scheduledNanos));
    }

    /** The shared forward (or the scheduler) threw: every request of its batch still running ends with the error. */
    private void fail(ScheduledBatch batch, Throwable e) {
        String msg = "engine error: " + e;
        for (int i = 0; i < batch.size(); i++) {
            Request r = batch.request(i);
            if (!liveIds.containsKey(r.id)) continue;
            finish(r, false);
            emit(r, RequestOutput.error(r.id, 500, msg, r.numPromptTokens, r.numOutputTokens(), r.cachedPromptTokens, r.scheduledNanos));
        }
    }

    private void emit(Request r, RequestOutput o) {
        try {
            r.sink.accept(o);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "output sink of request " + r.id + " failed", e);
        }
    }

    private void publish() {
        kvEvents.flush();
        numRunning = scheduler.numRunning();
        numWaiting = scheduler.numWaiting() + kv.numWaiting();
        numUsedBlocks = blocks.numUsedBlocks();
        prefixQueries = blocks.prefixQueries();
        prefixHits = blocks.prefixHits();
        preemptions = scheduler.numPreemptions;
    }
}
