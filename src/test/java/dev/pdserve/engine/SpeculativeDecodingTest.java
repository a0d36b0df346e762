package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.GoldenReference;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.pdserve.engine.EngineTest.submit;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Speculative decoding over the golden models: greedy output token for token (and logprob for
 * logprob, text for text) the same as plain decoding, whatever else runs in the batch, with
 * prefix caching, chunked prefill, preemption, stop strings and tokens, penalties and logprobs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpeculativeDecodingTest extends GoldenEngines {
    Engine engine(String model, int numBlocks, int blockSize, int maxBatchedTokens, boolean prefixCaching, SpeculativeConfig spec) {
        CausalLM m = models.get(model);
        long bytes = numBlocks * PagedKvCache.blockBytes(m.numLayers(), blockSize, m.kvEntryFloats());
        Engine e = new Engine(m, tokenizers.get(model), EngineConfig.defaults(1024).withBlockSize(blockSize).withKvCacheBytes(bytes)
                .withMaxNumSeqs(64).withMaxNumBatchedTokens(maxBatchedTokens).withPrefixCaching(prefixCaching).withSpeculative(spec));
        e.assumeDraftCost(0); // draft whenever drafts get accepted: what is tested here is that they never change a token
        engines.add(e);
        return e;
    }

    static final SpeculativeConfig NGRAM = SpeculativeConfig.ngram(4, 1, 4);

    /** A prompt that repeats itself, so the model's continuation copies and drafts get accepted. */
    static int[] repetitive(int i) {
        Random rnd = new Random(100 + i);
        int period = 3 + i % 9;
        int[] unit = new int[period];
        for (int k = 0; k < period; k++) unit[k] = 2 + rnd.nextInt(4000);
        int[] p = new int[period * (2 + i % 4) + i % 3];
        for (int k = 0; k < p.length; k++) p[k] = unit[k % period];
        return p;
    }

    static int[] prompt(int i) { return i % 2 == 0 ? repetitive(i) : EngineGoldenTest.prompt(i); }

    /** Mixed sampling settings, all greedy: stop strings and ids, min_tokens, penalties, logprobs. */
    static SamplingParams params(int i, Tokenizer tok, int[] plainTokens) {
        SamplingParams.Builder b = SamplingParams.greedy(8 + (i * 5) % 30).toBuilder().ignoreEos(i % 3 != 0);
        switch (i % 6) {
            case 1 -> b.logprobs(2);
            case 2 -> b.repetitionPenalty(1.3).frequencyPenalty(0.4).presencePenalty(0.2);
            case 3 -> b.minTokens(3).logprobs(0);
            case 4 -> { if (plainTokens != null && plainTokens.length > 6) b.stopTokenIds(plainTokens[5]); }
            case 5 -> { if (plainTokens != null && plainTokens.length > 8) b.stop(List.of(stopText(tok, plainTokens))); }
            default -> { }
        }
        return b.build();
    }

    /** A piece of the plain output's text from its middle, so the stop string cuts a speculated run. */
    static String stopText(Tokenizer tok, int[] tokens) {
        String text = tok.decode(java.util.Arrays.copyOfRange(tokens, 4, 8), true);
        String s = text.strip();
        return s.length() > 3 ? s.substring(0, 3) : s.isEmpty() ? "\n" : s;
    }

    record Run(int[][] tokens, String[] texts, List<List<TokenLogprob>> logprobs, FinishReason[] reasons) {}

    Run run(Engine e, String model, int n, int[][] plain, boolean together) {
        Collector[] cs = new Collector[n];
        for (int i = 0; i < n; i++) {
            cs[i] = submit(e, "r" + i, prompt(i), params(i, tokenizers.get(model), plain == null ? null : plain[i]));
            if (!together) cs[i].await();
        }
        int[][] tokens = new int[n][];
        String[] texts = new String[n];
        List<List<TokenLogprob>> lps = new ArrayList<>();
        FinishReason[] reasons = new FinishReason[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = cs[i].tokens();
            texts[i] = cs[i].text();
            lps.add(cs[i].logprobs());
            reasons[i] = cs[i].await().finishReason();
        }
        return new Run(tokens, texts, lps, reasons);
    }

    static void assertSame(Run got, Run want, String what) {
        assertThat(got.tokens()).as(what + " tokens").isDeepEqualTo(want.tokens());
        assertThat(got.texts()).as(what + " text").containsExactly(want.texts());
        assertThat(got.reasons()).as(what + " finish reasons").containsExactly(want.reasons());
        for (int i = 0; i < want.logprobs().size(); i++) {
            List<TokenLogprob> g = got.logprobs().get(i), w = want.logprobs().get(i);
            assertThat(g).as(what + " logprobs of " + i).hasSameSizeAs(w);
            for (int t = 0; t < w.size(); t++) {
                assertThat(g.get(t).logprob()).isEqualTo(w.get(t).logprob());
                assertThat(g.get(t).topIds()).containsExactly(w.get(t).topIds());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void goldenPromptsGiveTheSameGreedyTokensWithSpeculation(String model) {
        GoldenReference ref = GoldenReference.load(dir(model));
        for (int budget : new int[] {2048, 64}) {
            Engine e = engine(model, 512, 16, budget, true, NGRAM);
            List<Collector> cs = new ArrayList<>();
            for (int i = 0; i < ref.prompts().size(); i++) {
                GoldenReference.Prompt p = ref.prompts().get(i);
                cs.add(submit(e, "p" + i, p.inputIds(), EngineGoldenTest.greedyIgnoreEos(p.greedyIds().length)));
            }
            cs.forEach(Collector::await); // one forward at a time per model: the plain engine runs after
            Engine plain = engine(model, 512, 16, budget, true, null);
            for (int i = 0; i < cs.size(); i++) {
                GoldenReference.Prompt p = ref.prompts().get(i);
                int[] want = submit(plain, "q" + i, p.inputIds(), EngineGoldenTest.greedyIgnoreEos(p.greedyIds().length)).tokens();
                assertThat(cs.get(i).tokens()).as(model + " budget " + budget + " prompt " + i).containsExactly(want);
                EngineGoldenTest.checkGreedy(model + " prompt " + i, p, cs.get(i).tokens());
            }
            SpecDecodeStats s = e.specStats();
            assertThat(s.numAcceptedTokens()).as("some drafts accepted").isPositive();
            assertThat(s.numAcceptedTokens()).isLessThanOrEqualTo(s.numDraftTokens());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void thirtyTwoConcurrentMixedRequestsMatchPlainDecoding(String model) {
        int n = 32;
        Run first = run(engine(model, 512, 16, 2048, false, null), model, n, null, false);
        Run alone = run(engine(model, 512, 16, 2048, false, null), model, n, first.tokens(), false);

        Engine spec = engine(model, 512, 16, 2048, true, NGRAM);
        assertSame(run(spec, model, n, first.tokens(), true), alone, "batched, prefix caching");
        assertSame(run(spec, model, n, first.tokens(), true), alone, "again, prefix cache warm");
        assertThat(spec.specStats().numAcceptedTokens()).isPositive();
        assertSame(run(engine(model, 512, 16, 24, true, NGRAM), model, n, first.tokens(), true), alone, "budget of 24 tokens");
        Engine tight = engine(model, 24, 8, 2048, true, NGRAM);
        assertSame(run(tight, model, n, first.tokens(), true), alone, "preempting");
        assertThat(tight.stats().numPreemptions()).isPositive();
        // Some speculate, some do not: a k of 1 and a window that rarely matches.
        assertSame(run(engine(model, 512, 16, 2048, true, SpeculativeConfig.ngram(1, 3, 3)), model, n, first.tokens(), true), alone, "k=1");
    }

    /**
     * Both users of a request's logits rows in one batch: requests asking for prompt logprobs
     * (every prompt position a row, over several prefill chunks) beside speculating ones (drafts + 1
     * rows), and a request that does both. Tokens and prompt logprobs equal plain decoding's.
     */
    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void promptLogprobsBesideSpeculationMatchPlainDecoding(String model) {
        int n = 12;
        List<List<TokenLogprob>> want = new ArrayList<>();
        List<int[]> wantTokens = new ArrayList<>();
        Engine plain = engine(model, 512, 16, 2048, false, null);
        for (int i = 0; i < n; i++) {
            Collector c = submit(plain, "p" + i, prompt(i), withPromptLogprobs(i));
            wantTokens.add(c.tokens());
            want.add(promptLogprobsOf(c));
        }
        Engine spec = engine(model, 512, 16, 24, false, NGRAM); // 24-token budget: prompts prefill in chunks
        List<Collector> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) cs.add(submit(spec, "s" + i, prompt(i), withPromptLogprobs(i)));
        for (int i = 0; i < n; i++) {
            assertThat(cs.get(i).tokens()).as("tokens of " + i).containsExactly(wantTokens.get(i));
            List<TokenLogprob> got = promptLogprobsOf(cs.get(i)), w = want.get(i);
            if (w == null) {
                assertThat(got).as("no prompt logprobs asked for by " + i).isNull();
                continue;
            }
            assertThat(got).as("prompt logprobs of " + i).hasSize(prompt(i).length);
            assertThat(got.getFirst()).isNull();
            for (int t = 1; t < w.size(); t++) {
                assertThat(got.get(t).tokenId()).isEqualTo(prompt(i)[t]);
                assertThat(got.get(t).logprob()).as("prompt " + i + " position " + t).isEqualTo(w.get(t).logprob());
                assertThat(got.get(t).topIds()).containsExactly(w.get(t).topIds());
            }
        }
        assertThat(spec.specStats().numAcceptedTokens()).as("some drafts accepted").isPositive();
    }

    /** Every third request asks for prompt logprobs (one of them also for sampled logprobs); all greedy. */
    static SamplingParams withPromptLogprobs(int i) {
        SamplingParams.Builder b = SamplingParams.greedy(12 + i % 7).toBuilder().ignoreEos(true);
        if (i % 3 == 0) b.promptLogprobs(2);
        if (i % 6 == 0) b.logprobs(1);
        return b.build();
    }

    static List<TokenLogprob> promptLogprobsOf(Collector c) {
        c.await();
        synchronized (c) {
            for (RequestOutput o : c.outputs) if (o.promptLogprobs() != null) return o.promptLogprobs();
        }
        return null;
    }
}
