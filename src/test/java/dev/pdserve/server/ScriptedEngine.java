package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.EngineException;
import dev.pdserve.engine.EngineStats;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.InferenceEngine;
import dev.pdserve.engine.OutputSink;
import dev.pdserve.engine.RequestOutput;
import dev.pdserve.engine.TokenLogprob;
import dev.pdserve.model.CausalLM;
import dev.pdserve.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deterministic engine for the HTTP layer's protocol tests. Every step (every
 * {@code stepMillis}) each running request gets one token: the letter
 * {@code 'a' + (lastPromptId + i) % 26} for its i-th token, with made-up logprobs. It refuses
 * what the real engine refuses ({@link GenerationRequest#validate}, over {@link CharCodec}'s
 * vocabulary), honours max_tokens, stop_token_ids and min_tokens, counts blocks of 16 tokens as KV usage, and records
 * aborts, so tests can see that a client that leaves frees its blocks. Asked to
 * {@code do_remote_decode}, it ends with made-up {@code kv_transfer_params}, as a prefill instance
 * does, so a proxy can be put in front of two of them.
 */
final class ScriptedEngine implements InferenceEngine {
    static final int BLOCK = 16, TOTAL_BLOCKS = 1000;

    private final EngineConfig config;
    private final long stepMillis;
    private final CharCodec codec = new CharCodec();
    private final Map<String, Running> running = new ConcurrentHashMap<>();
    final Set<String> aborted = ConcurrentHashMap.newKeySet();
    final List<GenerationRequest> submitted = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicLong promptTokens = new AtomicLong(), generationTokens = new AtomicLong();
    private final Thread loop;
    private volatile boolean draining, closed;

    private static final class Running {
        final GenerationRequest request;
        final OutputSink sink;
        int generated;

        Running(GenerationRequest request, OutputSink sink) {
            this.request = request;
            this.sink = sink;
        }
    }

    ScriptedEngine(int maxModelLen, long stepMillis) {
        this.config = EngineConfig.defaults(maxModelLen);
        this.stepMillis = stepMillis;
        this.loop = Thread.ofPlatform().daemon().name("scripted-engine").start(this::run);
    }

    /** The text the engine writes for a prompt, token after token. */
    static String expectedText(int[] prompt, int tokens) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < tokens; i++) sb.append((char) token(prompt, i));
        return sb.toString();
    }

    static int token(int[] prompt, int i) {
        return 'a' + Math.floorMod(prompt[prompt.length - 1] + i, 26);
    }

    @Override
    public void submit(GenerationRequest r, OutputSink sink) {
        if (draining) throw new EngineException(503, null, "engine is draining");
        r.validate(codec.vocabSize(), config.maxModelLen());
        if (running.putIfAbsent(r.requestId(), new Running(r, sink)) != null) {
            throw new EngineException(409, null, "duplicate request id " + r.requestId());
        }
        submitted.add(r);
        promptTokens.addAndGet(r.promptIds().length);
    }

    private void run() {
        while (!closed) {
            try {
                Thread.sleep(stepMillis);
            } catch (InterruptedException e) {
                return;
            }
            for (Running r : running.values()) step(r);
        }
    }

    private void step(Running r) {
        var s = r.request.sampling();
        int tok = token(r.request.promptIds(), r.generated);
        r.generated++;
        generationTokens.incrementAndGet();
        boolean stopToken = r.generated > s.minTokens() && contains(s.stopTokenIds(), tok);
        boolean length = r.generated >= s.maxTokens();
        boolean finished = stopToken || length;
        TokenLogprob lp = null;
        if (s.logprobs() != null) {
            int k = s.logprobs();
            int[] topIds = new int[k];
            float[] topLps = new float[k];
            for (int i = 0; i < k; i++) {
                topIds[i] = i == 0 ? tok : 'A' + i;
                topLps[i] = -0.25f * (i + 1);
            }
            lp = new TokenLogprob(tok, -0.25f, topIds, topLps);
        }
        String text = stopToken && !s.includeStopStrInOutput() ? "" : String.valueOf((char) tok);
        if (finished) running.remove(r.request.requestId());
        RequestOutput o = RequestOutput.token(r.request.requestId(), tok, text, lp, r.request.promptIds().length, r.generated, 0, 0);
        r.sink.accept(finished ? o.finish(stopToken ? FinishReason.STOP : FinishReason.LENGTH, stopToken ? (Object) tok : null, lease(r.request)) : o);
    }

    /** A prefill's answer to {@code do_remote_decode}: where a decode instance would pull the KV from. */
    private static JsonNode lease(GenerationRequest r) {
        if (r.kvTransferParams() == null || !r.kvTransferParams().path("do_remote_decode").asBoolean(false)) return null;
        ObjectNode kv = JsonNodeFactory.instance.objectNode();
        kv.put("do_remote_prefill", true).put("do_remote_decode", false).put("remote_engine_id", "scripted");
        kv.putArray("remote_block_ids").add(0);
        kv.put("remote_host", "127.0.0.1").put("remote_port", 1).put("remote_request_id", r.requestId());
        return kv;
    }

    private static boolean contains(int[] ids, int id) {
        for (int x : ids) if (x == id) return true;
        return false;
    }

    @Override
    public void abort(String requestId) {
        Running r = running.remove(requestId);
        if (r == null) return;
        aborted.add(requestId);
        r.sink.accept(RequestOutput.abort(requestId, r.request.promptIds().length, r.generated, 0, 0));
    }

    int blocksUsed() {
        int blocks = 0;
        for (Running r : running.values()) blocks += (r.request.promptIds().length + r.generated + BLOCK - 1) / BLOCK;
        return blocks;
    }

    @Override
    public EngineStats stats() {
        int used = blocksUsed();
        return new EngineStats(running.size(), 0, used / (double) TOTAL_BLOCKS, TOTAL_BLOCKS, used,
                promptTokens.get(), generationTokens.get(), 0, 0, 0);
    }

    @Override public EngineConfig config() { return config; }

    /** The protocol tests run without a model. */
    @Override public CausalLM model() { return null; }

    /** The protocol tests use {@link CharCodec} instead. */
    @Override public Tokenizer tokenizer() { return null; }

    CharCodec codec() { return codec; }

    @Override
    public void drain() {
        draining = true;
        while (!running.isEmpty()) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        loop.interrupt();
    }

    static List<String> ids(List<GenerationRequest> rs) {
        List<String> out = new ArrayList<>();
        for (GenerationRequest r : rs) out.add(r.requestId());
        return out;
    }
}
