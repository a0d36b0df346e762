package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.KvCache;
import dev.pdserve.tokenizer.Tokenizer;

import java.util.ArrayDeque;
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
 * schedule, one forward over every scheduled span, sample, detokenize, send outputs). All the
 * engine's state belongs to that thread; other threads talk to it through a queue.
 */
public final class Engine implements InferenceEngine {
    private static final Logger LOG = Logger.getLogger(Engine.class.getName());
    private static final int MAX_LOGPROBS = 20;

    private final CausalLM model;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final TokenDecoder.Factory decoders;
    private final PagedKvCache cache;
    private final BlockManager blocks;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    private final Sampler sampler;
    private final int vocab;
    /** PD disaggregation's KV connector, or null (colocated). */
    private final KvConnector connector;
    /** Remote-prefill requests waiting for blocks to pull into, and those whose pull runs. */
    private final ArrayDeque<Request> pendingLoads = new ArrayDeque<>();
    private final ArrayList<Request> loading = new ArrayList<>();

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

    private record Abort(String requestId) {}

    /** A KV lease ended (released, expired, aborted): its blocks go back to the pool. */
    private record FreeBlocks(int[] blockIds) {}

    /** A remote prefill's pull ended; {@code error} null on success. */
    private record PullDone(Request request, String error) {}

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
        this.scheduler = new Scheduler(blocks, config.maxNumSeqs(), config.maxNumBatchedTokens());
        this.runner = new ModelRunner(model, cache);
        this.sampler = new Sampler(vocab, model.config().eosTokenIds());
        this.connector = connector == null ? null : connector.apply(cache);
        this.loop = new Thread(this::runLoop, "pdserve-engine");
        loop.setDaemon(true);
        loop.start();
    }

    @Override
    public void submit(GenerationRequest request, OutputSink sink) {
        if (draining || closed) throw new EngineException(503, null, "the engine is shutting down and takes no new requests");
        validate(request);
        SamplingParams p = request.sampling();
        long seed = p.seed() != null ? p.seed() ^ 0x2545F4914F6CDD1DL : config.seed() * 0x9E3779B97F4A7C15L + seedCounter.incrementAndGet();
        OutputText text = new OutputText(decoders.create(request.promptIds(), p.skipSpecialTokens()), p.stop(), p.includeStopStrInOutput());
        KvConnector.Plan plan = connector == null ? KvConnector.NONE : connector.plan(request.kvTransferParams(), request.promptIds().length);
        Request r = new Request(request.requestId(), request.promptIds(), p, sink, config.blockSize(), seed, text);
        r.kvPlan = plan;
        if (liveIds.putIfAbsent(r.id, Boolean.TRUE) != null) {
            throw new EngineException(400, "request_id", "request id '" + r.id + "' is already running");
        }
        inbox.add(r);
        LockSupport.unpark(loop);
    }

    private void validate(GenerationRequest q) {
        if (q.requestId() == null || q.requestId().isEmpty()) throw new EngineException(400, "request_id", "request id is empty");
        int[] ids = q.promptIds();
        if (ids == null || ids.length == 0) throw new EngineException(400, "prompt", "the prompt is empty");
        for (int t : ids) {
            if (t < 0 || t >= vocab) throw new EngineException(400, "prompt", "prompt token id " + t + " is out of vocabulary (size " + vocab + ")");
        }
        SamplingParams p = q.sampling();
        if (p == null) throw new EngineException(400, null, "sampling parameters are missing");
        int max = config.maxModelLen();
        if (ids.length >= max) {
            throw new EngineException(400, "prompt", "This model's maximum context length is " + max
                    + " tokens. However, your request has " + ids.length + " input tokens. Please reduce the length of the input.");
        }
        if (p.maxTokens() < 1) throw new EngineException(400, "max_tokens", "max_tokens must be at least 1, got " + p.maxTokens());
        if ((long) ids.length + p.maxTokens() > max) {
            throw new EngineException(400, "max_tokens", "'max_tokens' is too large: " + p.maxTokens() + ". This model's maximum context length is "
                    + max + " tokens and your request has " + ids.length + " input tokens (" + p.maxTokens() + " > " + max + " - " + ids.length + ").");
        }
        int need = blocks.blocksFor(ids.length + p.maxTokens());
        if (need > blocks.numBlocks()) {
            throw new EngineException(400, "max_tokens", "the request needs up to " + need + " KV blocks (" + (ids.length + p.maxTokens())
                    + " tokens) but the KV cache has only " + blocks.numBlocks() + " blocks of " + config.blockSize() + " tokens");
        }
        if (!(p.temperature() >= 0)) throw new EngineException(400, "temperature", "temperature must be >= 0, got " + p.temperature());
        if (!(p.topP() > 0 && p.topP() <= 1)) throw new EngineException(400, "top_p", "top_p must be in (0, 1], got " + p.topP());
        if (p.topK() < -1) throw new EngineException(400, "top_k", "top_k must be -1 (disable), 0 (disable) or at least 1, got " + p.topK());
        if (!(p.minP() >= 0 && p.minP() <= 1)) throw new EngineException(400, "min_p", "min_p must be in [0, 1], got " + p.minP());
        if (!(p.repetitionPenalty() > 0)) throw new EngineException(400, "repetition_penalty", "repetition_penalty must be > 0, got " + p.repetitionPenalty());
        if (!(Math.abs(p.presencePenalty()) <= 2)) throw new EngineException(400, "presence_penalty", "presence_penalty must be in [-2, 2], got " + p.presencePenalty());
        if (!(Math.abs(p.frequencyPenalty()) <= 2)) throw new EngineException(400, "frequency_penalty", "frequency_penalty must be in [-2, 2], got " + p.frequencyPenalty());
        if (p.minTokens() < 0 || p.minTokens() > p.maxTokens()) {
            throw new EngineException(400, "min_tokens", "min_tokens must be in [0, max_tokens=" + p.maxTokens() + "], got " + p.minTokens());
        }
        if (p.logprobs() != null && (p.logprobs() < 0 || p.logprobs() > MAX_LOGPROBS)) {
            throw new EngineException(400, "logprobs", "logprobs must be in [0, " + MAX_LOGPROBS + "], got " + p.logprobs());
        }
        if (p.stop() != null) for (String s : p.stop()) {
            if (s == null || s.isEmpty()) throw new EngineException(400, "stop", "stop strings must not be empty");
        }
    }

    @Override
    public void abort(String requestId) {
        if (requestId == null || !liveIds.containsKey(requestId)) return;
        inbox.add(new Abort(requestId));
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

    /** Tokens fed through the model so far (prefix-cache hits are not fed); for tests and benchmarks. */
    long numComputedTokens() { return computedTokens; }

    @Override public EngineConfig config() { return config; }

    @Override public KvConnector.Stats kvStats() { return connector == null ? null : connector.stats(); }

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
        if (connector != null) connector.close();
        cache.close();
        if (interrupted) Thread.currentThread().interrupt();
    }

    // ---- the step loop (engine thread only below this line) ----

    private void runLoop() {
        while (!closed) {
            takeInbox();
            startLoads();
            publish();
            if (!scheduler.hasWork()) {
                if (inbox.isEmpty()) LockSupport.park(this);
                continue;
            }
            try {
                step();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.SEVERE, "engine step failed; failing its requests", e);
                failScheduled(e);
            }
        }
        // Closing: whatever is still queued or running ends as aborted.
        takeInbox();
        for (Request r : scheduler.all()) abort(r);
        for (Request r : List.copyOf(pendingLoads)) abortLoad(r);
        for (Request r : List.copyOf(loading)) if (!r.abortedWhileLoading) abortLoad(r);
        publish();
        if (closedFromSink) {
            if (connector != null) connector.close();
            cache.close();
        }
    }

    private void takeInbox() {
        Object m;
        while ((m = inbox.poll()) != null) {
            if (m instanceof Request r) {
                if (r.kvPlan.kind() == KvConnector.Kind.REMOTE_PREFILL) pendingLoads.addLast(r); else scheduler.add(r);
            } else if (m instanceof Abort(String id)) {
                Request r = scheduler.find(id);
                if (r != null) abort(r); else abortLoad(id);
            } else if (m instanceof FreeBlocks(int[] ids)) {
                try {
                    blocks.free(ids, ids.length);
                } catch (IllegalStateException e) {
                    // A bug, but one that must not stop the step loop every other request depends on.
                    LOG.log(Level.SEVERE, "freeing leased KV blocks " + Arrays.toString(ids) + " failed", e);
                }
            } else if (m instanceof PullDone(Request r, String error)) {
                pullDone(r, error);
            }
        }
    }

    private void abort(Request r) {
        scheduler.remove(r);
        liveIds.remove(r.id);
        publish();
        emit(r, new RequestOutput(r.id, new int[0], "", null, true, FinishReason.ABORT,
                r.numPromptTokens, r.numOutputTokens(), r.cachedPromptTokens, null, null, null, 0, r.scheduledNanos));
    }

    /**
     * Gives remote-prefill requests their prompt's blocks (in arrival order, as blocks allow) and
     * starts their pulls; the connector pulls off this thread and reports back through the inbox.
     */
    private void startLoads() {
        while (!pendingLoads.isEmpty()) {
            Request r = pendingLoads.peekFirst();
            if (!blocks.allocate(r, 0, r.numPromptTokens)) return;
            pendingLoads.pollFirst();
            loading.add(r);
            int[] local = Arrays.copyOf(r.blockTable, r.numBlocks);
            connector.pull(r.kvPlan, local, error -> {
                inbox.add(new PullDone(r, error));
                LockSupport.unpark(loop);
            });
        }
    }

    /**
     * The prompt's KV is here: all but the last prompt token count as computed, so the first
     * step feeds that one token and samples from its logits (what colocated prefill computes
     * for it, bit for bit). On failure the policy decides: fail the request, or prefill locally.
     */
    private void pullDone(Request r, String error) {
        loading.remove(r);
        if (r.abortedWhileLoading) {
            blocks.free(r);
            return;
        }
        if (error == null) {
            r.numComputed = r.numPromptTokens - 1;
            scheduler.add(r);
        } else if (connector.recomputeOnFailure()) {
            LOG.warning("request " + r.id + ": " + error + "; kv_load_failure_policy=recompute, prefilling locally");
            r.numComputed = 0;
            scheduler.add(r);
        } else {
            blocks.free(r);
            liveIds.remove(r.id);
            emit(r, new RequestOutput(r.id, new int[0], "", null, true, FinishReason.ERROR, r.numPromptTokens, 0, 0,
                    error + " (kv_load_failure_policy=fail)", null, null, 502));
        }
    }

    /** Aborts a remote-prefill request that is not scheduled yet; false when there is none with that id. */
    private boolean abortLoad(String id) {
        for (Request r : pendingLoads) if (r.id.equals(id)) return abortLoad(r);
        for (Request r : loading) if (r.id.equals(id) && !r.abortedWhileLoading) return abortLoad(r);
        return false;
    }

    private boolean abortLoad(Request r) {
        // A running pull writes into the request's blocks: they are freed when it ends (pullDone).
        if (!pendingLoads.remove(r)) r.abortedWhileLoading = true;
        liveIds.remove(r.id);
        emit(r, new RequestOutput(r.id, new int[0], "", null, true, FinishReason.ABORT, r.numPromptTokens, 0, 0, null));
        return true;
    }

    private void step() {
        scheduler.schedule();
        if (scheduler.numScheduled == 0) {
            // Only possible while memory is held elsewhere (a future KV lease): wait for it to be freed.
            LockSupport.parkNanos(1_000_000);
            return;
        }
        float[] logits = runner.run(scheduler);
        computedTokens += runner.numTokens();
        long countedBefore = promptTokens + generationTokens;
        int row = 0;
        for (int i = 0; i < scheduler.numScheduled; i++) {
            Request r = scheduler.scheduled[i];
            int n = scheduler.numScheduledTokens[i];
            boolean sample = Scheduler.wantsLogits(r, n);
            r.numComputed += n;
            blocks.cacheComputedBlocks(r);
            if (sample) {
                int token = sampler.sample(logits, row++ * vocab, r);
                onToken(r, token, sampler.lastLogprob);
            }
        }
        // The prompt and generation counters move only in onToken: their growth is this step's count.
        int iterationTokens = (int) (promptTokens + generationTokens - countedBefore);
        if (iterationTokens > 0) {
            try {
                iterationListener.accept(iterationTokens);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "iteration listener failed", e);
            }
        }
    }

    private void onToken(Request r, int token, TokenLogprob logprob) {
        SamplingParams p = r.sampling;
        r.tokens[r.numTokens++] = token;
        generationTokens++;
        int out = r.numOutputTokens();
        if (out == 1) promptTokens += r.numPromptTokens;
        boolean eos = !p.ignoreEos() && sampler.isEos(token);
        boolean stopId = contains(p.stopTokenIds(), token);
        FinishReason finish = null;
        Object stopReason = null;
        if (out >= p.minTokens() && (eos || stopId)) {
            // vLLM leaves the stop token's text out unless asked to include it.
            if (p.includeStopStrInOutput()) r.text.add(token, false);
            finish = FinishReason.STOP;
            if (!eos) stopReason = token;
        } else if (r.text.add(token, out > p.minTokens())) {
            finish = FinishReason.STOP;
            stopReason = r.text.matchedStop();
        } else if (out >= p.maxTokens() || r.numTokens >= config.maxModelLen()) {
            finish = FinishReason.LENGTH;
        }
        JsonNode kvParams = finish != null ? finish(r, true) : null;
        emit(r, new RequestOutput(r.id, new int[] {token}, r.text.takeDelta(finish != null),
                logprob == null ? null : List.of(logprob), finish != null, finish,
                r.numPromptTokens, out, r.cachedPromptTokens, null, stopReason, kvParams, 0, r.scheduledNanos));
    }

    /**
     * A request is done: its blocks go back to the pool. A prefill for a remote decode
     * ({@code do_remote_decode}) that ended normally first leases its prompt's blocks to the KV
     * connector and returns the {@code kv_transfer_params} that point at them.
     */
    private JsonNode finish(Request r, boolean normalEnd) {
        JsonNode kv = null;
        if (normalEnd && connector != null && r.kvPlan.kind() == KvConnector.Kind.REMOTE_DECODE) kv = leasePrompt(r);
        scheduler.remove(r);
        liveIds.remove(r.id);
        publish();
        return kv;
    }

    /**
     * The lease takes its own reference on each prompt block, so a prefix block shared with other
     * requests stays valid while leased and the request's own references are dropped as usual.
     */
    private JsonNode leasePrompt(Request r) {
        int[] ids = Arrays.copyOf(r.blockTable, Math.min(blocks.blocksFor(r.numPromptTokens), r.numBlocks));
        blocks.retain(ids);
        try {
            return connector.lease(r.id, ids, r.numPromptTokens, () -> {
                inbox.add(new FreeBlocks(ids));
                LockSupport.unpark(loop);
            });
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot lease the KV of request " + r.id + "; freeing it", e);
            blocks.free(ids, ids.length);
            return null;
        }
    }

    private void failScheduled(Throwable e) {
        String msg = "engine error: " + e;
        for (int i = 0; i < scheduler.numScheduled; i++) {
            Request r = scheduler.scheduled[i];
            if (!liveIds.containsKey(r.id)) continue;
            finish(r, false);
            emit(r, new RequestOutput(r.id, new int[0], "", null, true, FinishReason.ERROR,
                    r.numPromptTokens, r.numOutputTokens(), r.cachedPromptTokens, msg));
        }
        scheduler.numScheduled = 0;
    }

    private void emit(Request r, RequestOutput o) {
        try {
            r.sink.accept(o);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "output sink of request " + r.id + " failed", e);
        }
    }

    private void publish() {
        numRunning = scheduler.numRunning();
        numWaiting = scheduler.numWaiting() + pendingLoads.size() + loading.size();
        numUsedBlocks = blocks.numUsedBlocks();
        prefixQueries = blocks.prefixQueries();
        prefixHits = blocks.prefixHits();
        preemptions = scheduler.numPreemptions;
    }

    private static boolean contains(int[] ids, int id) {
        if (ids == null) return false;
        for (int x : ids) if (x == id) return true;
        return false;
    }
}
