package dev.pdserve.engine;

import dev.pdserve.model.CausalLM;
import dev.pdserve.tokenizer.Tokenizer;

import java.util.List;
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

    private final ConcurrentLinkedQueue<Object> inbox = new ConcurrentLinkedQueue<>();
    private final ConcurrentHashMap<String, Boolean> liveIds = new ConcurrentHashMap<>();
    private final AtomicLong seedCounter = new AtomicLong();
    private final Thread loop;
    private volatile boolean draining;
    private volatile boolean closed;
    private boolean closedFromSink;

    // Gauges and counters, written by the loop thread only, read by stats().
    private volatile int numRunning, numWaiting, numUsedBlocks;
    private volatile long promptTokens, generationTokens, computedTokens;
    private volatile long prefixQueries, prefixHits, preemptions;

    private record Abort(String requestId) {}

    public Engine(CausalLM model, Tokenizer tokenizer, EngineConfig config) {
        this(model, tokenizer, config, TokenDecoder.of(tokenizer));
    }

    /** With a custom detokenizer (tests drive the engine with models that have no tokenizer). */
    Engine(CausalLM model, Tokenizer tokenizer, EngineConfig config, TokenDecoder.Factory decoders) {
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
        Request r = new Request(request.requestId(), request.promptIds(), p, sink, config.blockSize(), seed, text);
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

    /** Tokens fed through the model so far (prefix-cache hits are not fed); for tests and benchmarks. */
    long numComputedTokens() { return computedTokens; }

    @Override public EngineConfig config() { return config; }

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
        cache.close();
        if (interrupted) Thread.currentThread().interrupt();
    }

    // ---- the step loop (engine thread only below this line) ----

    private void runLoop() {
        while (!closed) {
            takeInbox();
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
        publish();
        if (closedFromSink) cache.close();
    }

    private void takeInbox() {
        Object m;
        while ((m = inbox.poll()) != null) {
            if (m instanceof Request r) {
                scheduler.add(r);
            } else if (m instanceof Abort(String id)) {
                Request r = scheduler.find(id);
                if (r != null) abort(r);
            }
        }
    }

    private void abort(Request r) {
        scheduler.remove(r);
        liveIds.remove(r.id);
        publish();
        emit(r, new RequestOutput(r.id, new int[0], "", null, true, FinishReason.ABORT,
                r.numPromptTokens, r.numOutputTokens(), r.cachedPromptTokens, null));
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
        if (finish != null) finish(r);
        emit(r, new RequestOutput(r.id, new int[] {token}, r.text.takeDelta(finish != null),
                logprob == null ? null : List.of(logprob), finish != null, finish,
                r.numPromptTokens, out, r.cachedPromptTokens, null, stopReason));
    }

    /**
     * A request is done: its blocks go back to the pool. Issue 4's KV producer will instead keep
     * them under a lease here (copy {@code r.blockTable[0..numBlocks)} and free it later with
     * {@link BlockManager#free(int[], int)}).
     */
    private void finish(Request r) {
        scheduler.remove(r);
        liveIds.remove(r.id);
        publish();
    }

    private void failScheduled(Throwable e) {
        String msg = "engine error: " + e;
        for (int i = 0; i < scheduler.numScheduled; i++) {
            Request r = scheduler.scheduled[i];
            if (!liveIds.containsKey(r.id)) continue;
            finish(r);
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
        numWaiting = scheduler.numWaiting();
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
