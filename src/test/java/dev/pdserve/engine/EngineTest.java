package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The step loop end to end over {@link FakeLM}, whose outputs break if KV paging goes wrong. */
class EngineTest {
    static final int V = 4096;
    static Tokenizer tokenizer;
    final List<Engine> engines = new ArrayList<>();

    @BeforeAll
    static void loadTokenizer() { tokenizer = Tokenizer.load(TestModels.llama()); }

    @AfterAll
    static void closeTokenizer() { tokenizer.close(); }

    @AfterEach
    void noBlockLeaked() {
        for (Engine e : engines) {
            e.drain();
            assertThat(e.stats().numBlocksUsed()).as("KV blocks still in use").isZero();
            assertThat(e.stats().kvCacheUsage()).isZero();
            e.close();
        }
    }

    Engine engine(int numBlocks, int blockSize, int maxBatchedTokens, boolean prefixCaching) {
        FakeLM model = new FakeLM(V);
        long bytes = numBlocks * PagedKvCache.blockBytes(model.numLayers(), blockSize, model.kvEntryFloats());
        EngineConfig c = EngineConfig.defaults(512).withBlockSize(blockSize).withKvCacheBytes(bytes).withMaxNumSeqs(64)
                .withMaxNumBatchedTokens(maxBatchedTokens).withPrefixCaching(prefixCaching);
        Engine e = new Engine(model, tokenizer, c);
        engines.add(e);
        return e;
    }

    static int[] prompt(long seed, int len) {
        Random rnd = new Random(seed);
        int[] p = new int[len];
        for (int i = 0; i < len; i++) p[i] = 2 + rnd.nextInt(V - 2);
        return p;
    }

    static SamplingParams greedy(int max) { return SamplingParams.greedy(max); }

    static SamplingParams with(SamplingParams p, Long seed, double temperature, int topK, int[] stopIds, List<String> stop, int minTokens, Integer logprobs) {
        return p.toBuilder().seed(seed).temperature(temperature).topK(topK).stopTokenIds(stopIds).stop(stop).minTokens(minTokens)
                .ignoreEos(true).logprobs(logprobs).build();
    }

    static Collector submit(Engine e, String id, int[] prompt, SamplingParams p) {
        Collector c = new Collector();
        e.submit(new GenerationRequest(id, prompt, p), c);
        return c;
    }

    /** 32 requests of mixed lengths, all at once; returns their tokens. */
    static int[][] runBatch(Engine e, int n) {
        Collector[] cs = new Collector[n];
        for (int i = 0; i < n; i++) cs[i] = submit(e, "r" + i, prompt(i, 3 + (i * 37) % 90), greedy(6 + i % 11));
        int[][] out = new int[n][];
        for (int i = 0; i < n; i++) out[i] = cs[i].tokens();
        return out;
    }

    int[][] alone(int n) {
        Engine e = engine(256, 16, 2048, false);
        int[][] out = new int[n][];
        for (int i = 0; i < n; i++) out[i] = submit(e, "r" + i, prompt(i, 3 + (i * 37) % 90), greedy(6 + i % 11)).tokens();
        return out;
    }

    @Test
    void concurrentRequestsGiveTheSameTokensAsAlone() {
        int[][] expected = alone(32);
        assertThat(runBatch(engine(256, 16, 2048, true), 32)).isDeepEqualTo(expected);
        // Chunked prefill: prompts up to 92 tokens through a 32-token budget.
        Engine chunked = engine(256, 16, 32, true);
        assertThat(runBatch(chunked, 32)).isDeepEqualTo(expected);
        // A pool of 24 blocks of 8 for 32 requests of up to ~100 tokens: preemption must happen.
        Engine tight = engine(24, 8, 2048, true);
        assertThat(runBatch(tight, 32)).isDeepEqualTo(expected);
        assertThat(tight.stats().numPreemptions()).isPositive();
        Engine tightNoCache = engine(24, 8, 64, false);
        assertThat(runBatch(tightNoCache, 32)).isDeepEqualTo(expected);
        assertThat(tightNoCache.stats().numPreemptions()).isPositive();
    }

    @Test
    void aSharedPrefixIsComputedOnce() {
        Engine e = engine(64, 8, 2048, true);
        int[] first = prompt(1, 100);
        int[] second = Arrays.copyOf(first, 110);
        System.arraycopy(prompt(2, 10), 0, second, 100, 10);
        int[] expected = alone(second, 5);

        submit(e, "a", first, greedy(5)).await();
        long before = e.numComputedTokens();
        Collector b = submit(e, "b", second, greedy(5));
        assertThat(b.tokens()).containsExactly(expected);
        assertThat(b.await().cachedPromptTokens()).isEqualTo(96);
        // Only the 14 new prompt tokens and the 4 decode steps after the first sampled token ran.
        assertThat(e.numComputedTokens() - before).isEqualTo(14 + 4);
        EngineStats s = e.stats();
        assertThat(s.prefixCacheHits()).isEqualTo(96);
        assertThat(s.prefixCacheQueries()).isEqualTo(210);
        assertThat(s.promptTokensTotal()).isEqualTo(210);
        assertThat(s.generationTokensTotal()).isEqualTo(10);
    }

    int[] alone(int[] prompt, int maxTokens) {
        Engine e = engine(64, 8, 2048, false);
        return submit(e, "x", prompt, greedy(maxTokens)).tokens();
    }

    @Test
    void seededSamplingRepeatsInAnyBatchAndTopKOneIsGreedy() {
        Engine e = engine(256, 16, 2048, true);
        SamplingParams seeded = with(greedy(12), 1234L, 1.0, 0, new int[0], List.of(), 0, null);
        int[] p = prompt(5, 20);
        int[] alone = submit(e, "s0", p, seeded).tokens();
        List<Collector> crowd = new ArrayList<>();
        for (int i = 0; i < 8; i++) crowd.add(submit(e, "n" + i, prompt(50 + i, 30), with(greedy(12), null, 1.0, 0, new int[0], List.of(), 0, null)));
        Collector again = submit(e, "s1", p, seeded);
        assertThat(again.tokens()).containsExactly(alone);
        crowd.forEach(Collector::await);
        assertThat(alone).isNotEqualTo(submit(e, "g", p, greedy(12)).tokens());

        int[] greedyTokens = submit(e, "g2", p, greedy(12)).tokens();
        assertThat(submit(e, "k1", p, with(greedy(12), null, 0.8, 1, new int[0], List.of(), 0, null)).tokens()).containsExactly(greedyTokens);
    }

    @Test
    void stopTokenIdsAndMinTokens() {
        Engine e = engine(256, 16, 2048, true);
        int[] p = prompt(9, 12);
        int[] free = submit(e, "a", p, greedy(10)).tokens();
        int stopId = free[3];
        Collector c = submit(e, "b", p, with(greedy(10), null, 0, 0, new int[] {stopId}, List.of(), 0, null));
        int[] stopped = c.tokens();
        int firstAt = indexOf(free, stopId);
        assertThat(stopped).containsExactly(Arrays.copyOf(free, firstAt + 1));
        assertThat(c.await().finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(c.await().stopReason()).isEqualTo(stopId);

        Collector m = submit(e, "c", p, with(greedy(10), null, 0, 0, new int[] {stopId}, List.of(), 6, null));
        int[] min = m.tokens();
        assertThat(min.length).isGreaterThanOrEqualTo(6);
        assertThat(Arrays.copyOf(min, 6)).doesNotContain(stopId);
        assertThat(m.await().completionTokens()).isEqualTo(min.length);
    }

    static int indexOf(int[] a, int x) {
        for (int i = 0; i < a.length; i++) if (a[i] == x) return i;
        return -1;
    }

    @Test
    void stopStringsCutTheTextAndNeverLeak() {
        Engine e = engine(256, 16, 2048, true);
        int[] p = prompt(11, 12);
        Collector full = submit(e, "a", p, greedy(16));
        String text = full.text();
        assertThat(full.await().finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(text.length()).isGreaterThan(12);
        String stop = text.substring(6, 10);
        int at = text.indexOf(stop);
        Collector c = submit(e, "b", p, with(greedy(16), null, 0, 0, new int[0], List.of(stop), 0, null));
        assertThat(c.text()).isEqualTo(text.substring(0, at));
        assertThat(c.await().finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(c.await().stopReason()).isEqualTo(stop);
        assertThat(full.await().stopReason()).isNull();
        SamplingParams include = greedy(16).toBuilder().stop(List.of(stop)).includeStopStrInOutput(true).ignoreEos(true).build();
        assertThat(submit(e, "c", p, include).text()).isEqualTo(text.substring(0, at + stop.length()));
    }

    @Test
    void logprobsComeOnePerTokenWithTheAskedTopCount() {
        Engine e = engine(256, 16, 2048, true);
        Collector c = submit(e, "a", prompt(3, 10), with(greedy(7), null, 0, 0, new int[0], List.of(), 0, 5));
        int[] tokens = c.tokens();
        List<TokenLogprob> lps = c.logprobs();
        assertThat(lps).hasSize(7);
        for (int i = 0; i < 7; i++) {
            TokenLogprob lp = lps.get(i);
            assertThat(lp.tokenId()).isEqualTo(tokens[i]);
            assertThat(lp.topIds()).hasSize(5).contains(tokens[i]);
            assertThat(lp.logprob()).isEqualTo(lp.topLogprobs()[0]).isNegative();
        }
    }

    @Test
    void abortFreesBlocksAtOnceAndSendsAFinalAbort() throws InterruptedException {
        Engine e = engine(256, 16, 2048, true);
        Collector c = new Collector();
        // Aborting from the sink (as a disconnecting client would, mid-stream) lands before the next step.
        e.submit(new GenerationRequest("long", prompt(4, 50), with(greedy(400), null, 0, 0, new int[0], List.of(), 0, null)), o -> {
            c.accept(o);
            if (o.completionTokens() == 2 && !o.finished()) e.abort("long");
        });
        RequestOutput last = c.await();
        assertThat(last.finishReason()).isEqualTo(FinishReason.ABORT);
        assertThat(last.completionTokens()).isEqualTo(2);
        assertThat(c.outputs).hasSize(3);
        assertThat(e.stats().numBlocksUsed()).isZero();
        assertThat(e.stats().numRunning()).isZero();
        e.abort("long"); // unknown now: a no-op
        e.abort("never-seen");
        // Aborting a request still queued works too: a sink holds the engine thread, so "q" cannot run meanwhile.
        java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1), release = new java.util.concurrent.CountDownLatch(1);
        Collector holder = new Collector();
        e.submit(new GenerationRequest("holder", prompt(6, 10), greedy(2)), o -> {
            holder.accept(o);
            held.countDown();
            try {
                release.await();
            } catch (InterruptedException x) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            held.await();
            Collector queued = submit(e, "q", prompt(5, 10), with(greedy(400), null, 0, 0, new int[0], List.of(), 0, null));
            e.abort("q");
            release.countDown();
            assertThat(queued.await().finishReason()).isEqualTo(FinishReason.ABORT);
            assertThat(queued.outputs).hasSize(1);
        } finally {
            release.countDown();
        }
        assertThat(holder.await().finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    @Test
    void badRequestsAreRefusedWithTheirStatus() {
        Engine e = engine(16, 16, 2048, true);
        assertThatThrownBy(() -> submit(e, "a", prompt(1, 500), greedy(100)))
                .isInstanceOf(EngineException.class).hasMessageContaining("512").hasMessageContaining("500").hasMessageContaining("100")
                .satisfies(x -> assertThat(((EngineException) x).status).isEqualTo(400));
        assertThatThrownBy(() -> submit(e, "a", new int[0], greedy(1))).isInstanceOf(EngineException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> submit(e, "a", new int[] {V}, greedy(1))).isInstanceOf(EngineException.class).hasMessageContaining("vocabulary");
        // 16 blocks of 16 tokens hold 256 tokens: a request that may need 300 can never run.
        assertThatThrownBy(() -> submit(e, "a", prompt(1, 200), greedy(100))).isInstanceOf(EngineException.class).hasMessageContaining("KV");
        // The first output holds the engine until the duplicate has been tried, so "dup" cannot finish first.
        java.util.concurrent.CountDownLatch tried = new java.util.concurrent.CountDownLatch(1);
        Collector running = new Collector();
        e.submit(new GenerationRequest("dup", prompt(1, 10), greedy(50)), o -> {
            running.accept(o);
            try {
                tried.await();
            } catch (InterruptedException x) {
                Thread.currentThread().interrupt();
            }
        });
        assertThatThrownBy(() -> submit(e, "dup", prompt(1, 10), greedy(5))).isInstanceOf(EngineException.class).hasMessageContaining("dup");
        tried.countDown();
        e.drain();
        assertThat(running.await().finished()).isTrue();
        assertThatThrownBy(() -> submit(e, "late", prompt(1, 10), greedy(5)))
                .isInstanceOf(EngineException.class).satisfies(x -> assertThat(((EngineException) x).status).isEqualTo(503));
    }

    @Test
    void aFailingForwardEndsItsRequestsWithAnErrorAndTheEngineKeepsServing() throws Exception {
        FakeLM model = new FakeLM(V);
        Engine e = new Engine(model, tokenizer, EngineConfig.defaults(512).withKvCacheBytes(1 << 20).withMaxNumSeqs(64));
        engines.add(e);
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        Collector c = new Collector();
        e.submit(new GenerationRequest("a", prompt(1, 10), greedy(400)), o -> {
            c.accept(o);
            if (!o.finished()) {
                model.failNext = true;
                started.countDown();
            }
        });
        started.await();
        RequestOutput last = c.await();
        assertThat(last.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(last.error()).contains("injected forward failure");
        assertThat(e.stats().numBlocksUsed()).isZero();
        assertThat(submit(e, "b", prompt(2, 10), greedy(5)).tokens()).hasSize(5);
    }

    @Test
    void closeFromAnOutputSinkDoesNotDeadlock() {
        Engine e = engine(256, 16, 2048, true);
        engines.remove(e);
        Collector c = new Collector();
        e.submit(new GenerationRequest("a", prompt(1, 10), with(greedy(400), null, 0, 0, new int[0], List.of(), 0, null)), o -> {
            c.accept(o);
            if (!o.finished()) e.close();
        });
        assertThat(c.await().finishReason()).isEqualTo(FinishReason.ABORT);
        assertThatThrownBy(() -> submit(e, "b", prompt(1, 10), greedy(5))).isInstanceOf(EngineException.class);
    }

    @Test
    void closeAbortsWhatStillRuns() {
        Engine e = engine(256, 16, 2048, true);
        engines.remove(e);
        Collector c = submit(e, "a", prompt(1, 10), greedy(400));
        e.close();
        assertThat(c.await().finishReason()).isIn(FinishReason.ABORT, FinishReason.LENGTH);
    }
}
