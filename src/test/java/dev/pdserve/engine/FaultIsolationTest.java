package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One request never takes down the others (issue 17). Healthy requests, greedy and seeded, run
 * beside a poisoned one and must give, token for token, what they give without it; no KV block
 * is left behind. Sampling or detokenizing that throws fails its own request only; a failure of
 * the shared forward fails the whole batch (no request can be told from another there) and the
 * engine serves the next requests as before.
 */
class FaultIsolationTest {
    static final int V = 4096, HEALTHY = 6;
    /** A prompt starting with this id gets a detokenizer that throws at its third token. */
    static final int POISON = 7;
    static Tokenizer tokenizer;
    final List<Engine> engines = new ArrayList<>();

    @BeforeAll
    static void load() { tokenizer = Tokenizer.load(TestModels.llama()); }

    @AfterAll
    static void close() { tokenizer.close(); }

    @AfterEach
    void noBlockLeaked() {
        for (Engine e : engines) {
            e.drain();
            assertThat(e.stats().numBlocksUsed()).as("KV blocks still in use").isZero();
            e.close();
        }
    }

    Engine engine(FakeLM model) {
        long bytes = 256 * PagedKvCache.blockBytes(model.numLayers(), 16, model.kvEntryFloats());
        EngineConfig c = EngineConfig.defaults(512).withBlockSize(16).withKvCacheBytes(bytes).withMaxNumSeqs(64);
        TokenDecoder.Factory real = TokenDecoder.of(tokenizer);
        Engine e = new Engine(model, tokenizer, c, (prompt, skip) -> {
            TokenDecoder d = real.create(prompt, skip);
            if (prompt[0] != POISON) return d;
            int[] n = {0};
            return id -> {
                if (++n[0] == 3) throw new IllegalStateException("injected detokenizer failure");
                return d.add(id);
            };
        });
        engines.add(e);
        return e;
    }

    /** Healthy traffic: greedy and seeded requests of different lengths, each deterministic on its own. */
    static Map<String, Collector> healthy(Engine e) {
        Map<String, Collector> out = new LinkedHashMap<>();
        for (int i = 0; i < HEALTHY; i++) {
            SamplingParams p = SamplingParams.builder().maxTokens(24).ignoreEos(true)
                    .temperature(i % 2 == 0 ? 0 : 0.8).seed(i % 2 == 0 ? null : 100L + i).topP(0.9).build();
            out.put("h" + i, EngineTest.submit(e, "h" + i, EngineTest.prompt(i, 5 + 7 * i), p));
        }
        return out;
    }

    static Map<String, int[]> tokens(Map<String, Collector> cs) {
        Map<String, int[]> out = new LinkedHashMap<>();
        cs.forEach((id, c) -> {
            assertThat(c.await().finishReason()).as(id).isEqualTo(FinishReason.LENGTH);
            out.put(id, c.tokens());
        });
        return out;
    }

    Map<String, int[]> baseline() {
        return tokens(healthy(engine(new FakeLM(V))));
    }

    static int[] poisonPrompt() {
        int[] p = EngineTest.prompt(99, 12);
        p[0] = POISON;
        return p;
    }

    @Test
    void aDetokenizerFailureFailsItsRequestAloneAndTheBatchGoesOnTokenForToken() {
        Map<String, int[]> expected = baseline();
        Engine e = engine(new FakeLM(V));
        Collector poisoned = EngineTest.submit(e, "poison", poisonPrompt(), SamplingParams.greedy(40).toBuilder().ignoreEos(true).build());
        Map<String, Collector> crowd = healthy(e);
        RequestOutput last = poisoned.await();
        assertThat(last.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(last.errorStatus()).isEqualTo(500);
        assertThat(last.error()).contains("this request's sampling or detokenization").contains("injected detokenizer failure");
        assertThat(poisoned.tokens()).hasSize(2); // the two tokens before the failure went out
        Map<String, int[]> got = tokens(crowd);
        got.forEach((id, t) -> assertThat(t).as(id).containsExactly(expected.get(id)));
        // The engine goes on: the same traffic again gives the same tokens.
        tokens(healthy(e)).forEach((id, t) -> assertThat(t).as(id).containsExactly(expected.get(id)));
    }

    /** Every sampling parameter at the edges of what validation lets through, each one beside the healthy traffic. */
    static final Map<String, UnaryOperator<SamplingParams.Builder>> EXTREMES = new LinkedHashMap<>();
    static {
        EXTREMES.put("temperature=2", b -> b.temperature(2));
        EXTREMES.put("temperature=1e-5", b -> b.temperature(1e-5));
        EXTREMES.put("temperature=Double.MIN_VALUE", b -> b.temperature(Double.MIN_VALUE));
        EXTREMES.put("top_p=Double.MIN_VALUE", b -> b.temperature(1).topP(Double.MIN_VALUE));
        EXTREMES.put("top_k=1", b -> b.temperature(1).topK(1));
        EXTREMES.put("top_k=MAX", b -> b.temperature(1).topK(Integer.MAX_VALUE).topP(0.5));
        EXTREMES.put("min_p=1", b -> b.temperature(1).minP(1));
        EXTREMES.put("min_p=Double.MIN_VALUE", b -> b.temperature(2).minP(Double.MIN_VALUE).topP(0.1));
        EXTREMES.put("presence=2", b -> b.temperature(1).presencePenalty(2).topK(5));
        EXTREMES.put("presence=-2", b -> b.temperature(1).presencePenalty(-2));
        EXTREMES.put("frequency=2", b -> b.temperature(0).frequencyPenalty(2));
        EXTREMES.put("frequency=-2", b -> b.temperature(1).frequencyPenalty(-2).topP(0.3));
        EXTREMES.put("repetition=Double.MIN_VALUE", b -> b.temperature(1).repetitionPenalty(Double.MIN_VALUE).topP(0.5));
        EXTREMES.put("repetition=Double.MAX_VALUE", b -> b.temperature(1).repetitionPenalty(Double.MAX_VALUE).topP(0.5));
        EXTREMES.put("repetition=MIN greedy", b -> b.temperature(0).repetitionPenalty(Double.MIN_VALUE));
        EXTREMES.put("seed=Long.MIN_VALUE", b -> b.temperature(1).seed(Long.MIN_VALUE));
        EXTREMES.put("seed=Long.MAX_VALUE", b -> b.temperature(1).seed(Long.MAX_VALUE));
        EXTREMES.put("logprobs=20", b -> b.temperature(2).logprobs(20).repetitionPenalty(Double.MIN_VALUE));
        EXTREMES.put("every id a stop id, min_tokens=max", b -> b.temperature(1).minTokens(30).topP(0.5)
                .stopTokenIds(IntStream.range(0, V).toArray()).logprobs(5));
        EXTREMES.put("min_tokens=max greedy", b -> b.temperature(0).minTokens(30).stopTokenIds(IntStream.range(0, V).toArray()));
    }

    @Test
    void everySamplingParameterAtItsExtremesIsServedAndLeavesTheOthersAlone() {
        Map<String, int[]> expected = baseline();
        Engine e = engine(new FakeLM(V));
        for (var x : EXTREMES.entrySet()) {
            SamplingParams p = x.getValue().apply(SamplingParams.builder().maxTokens(30).ignoreEos(true)).build();
            p.validate(V); // what the server lets through
            Collector extreme = EngineTest.submit(e, "x", EngineTest.prompt(77, 9), p);
            Map<String, int[]> got = tokens(healthy(e));
            RequestOutput last = extreme.await();
            assertThat(last.finishReason()).as(x.getKey() + ": " + last.error()).isIn(FinishReason.LENGTH, FinishReason.STOP);
            assertThat(extreme.tokens()).as(x.getKey()).isNotEmpty();
            for (int t : extreme.tokens()) assertThat(t).as(x.getKey()).isBetween(0, V - 1);
            got.forEach((id, t) -> assertThat(t).as(x.getKey() + " beside " + id).containsExactly(expected.get(id)));
        }
    }

    @Test
    void aSamplingFailureIsItsEntrysAloneAndTheOtherEntriesAreSampledAsWithoutIt() {
        int vocab = 64;
        Sampler s = new Sampler(vocab, new int[] {1});
        SamplingParams seeded = SamplingParams.builder().temperature(0.9).topP(0.8).seed(5L).maxTokens(10).build();
        // A prompt id outside the vocabulary (which validation refuses) makes the repetition penalty index out of bounds.
        SamplingParams penalised = seeded.toBuilder().repetitionPenalty(1.3).build();
        java.util.function.IntFunction<Request> a = seed -> new Request("a", new int[] {3, 4}, seeded, o -> {}, 4, seed, null);
        float[] row = new float[vocab];
        for (int i = 0; i < vocab; i++) row[i] = (float) Math.sin(i * 0.7) * 3;
        for (int step = 0; step < 20; step++) {
            Request a1 = a.apply(11), b1 = a.apply(12), a2 = a.apply(11), b2 = a.apply(12);
            Request poison = new Request("p", new int[] {3, vocab + 5}, penalised, o -> {}, 4, 1, null);
            ScheduledBatch alone = new ScheduledBatch(), mixed = new ScheduledBatch();
            alone.add(a1, 2);
            alone.add(b1, 2);
            mixed.add(a2, 2);
            mixed.add(poison, 2);
            mixed.add(b2, 2);
            float[] two = new float[2 * vocab], three = new float[3 * vocab];
            for (int k = 0; k < 2; k++) System.arraycopy(row, 0, two, k * vocab, vocab);
            for (int k = 0; k < 3; k++) System.arraycopy(row, 0, three, k * vocab, vocab);
            SamplerOutput o1 = s.sample(alone, two);
            int ta = o1.token(0), tb = o1.token(1);
            SamplerOutput o2 = s.sample(mixed, three);
            assertThat(o2.failure(1)).isInstanceOf(ArrayIndexOutOfBoundsException.class);
            assertThat(o2.token(1)).isEqualTo(SamplerOutput.NO_TOKEN);
            assertThat(o2.failure(0)).isNull();
            assertThat(o2.token(0)).isEqualTo(ta);
            assertThat(o2.token(2)).isEqualTo(tb);
            row[step % vocab] += 1;
        }
    }

    @Test
    void aForwardFailureFailsTheWholeBatchThenTheEngineServesAsBefore() throws Exception {
        Map<String, int[]> expected = baseline();
        FakeLM model = new FakeLM(V);
        Engine e = engine(model);
        java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(1);
        Collector first = new Collector();
        e.submit(new GenerationRequest("first", EngineTest.prompt(1, 10), SamplingParams.greedy(400).toBuilder().ignoreEos(true).build()), o -> {
            first.accept(o);
            if (!o.finished() && running.getCount() > 0) running.countDown();
        });
        running.await();
        Map<String, Collector> crowd = healthy(e);
        model.failNext = true;
        // Every request in the failed step ends with the error (a request that had not reached a step yet may go on).
        RequestOutput last = first.await();
        assertThat(last.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(last.errorStatus()).isEqualTo(500);
        assertThat(last.error()).contains("injected forward failure");
        for (Collector c : crowd.values()) {
            RequestOutput o = c.await();
            assertThat(o.finishReason()).isIn(FinishReason.ERROR, FinishReason.LENGTH);
            if (o.finishReason() == FinishReason.ERROR) assertThat(o.error()).contains("injected forward failure");
        }
        assertThat(e.stats().numBlocksUsed()).isZero();
        tokens(healthy(e)).forEach((id, t) -> assertThat(t).as(id).containsExactly(expected.get(id)));
    }
}
