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
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.pdserve.engine.EngineTest.submit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** The engine over the real golden models: transformers' greedy tokens, batch invariance, prefix reuse. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EngineGoldenTest extends GoldenEngines {
    Engine engine(String model, int numBlocks, int blockSize, int maxBatchedTokens, boolean prefixCaching) {
        CausalLM m = models.get(model);
        long bytes = numBlocks * PagedKvCache.blockBytes(m.numLayers(), blockSize, m.kvEntryFloats());
        Engine e = new Engine(m, tokenizers.get(model), EngineConfig.defaults(1024).withBlockSize(blockSize).withKvCacheBytes(bytes).withMaxNumSeqs(64)
                .withMaxNumBatchedTokens(maxBatchedTokens).withPrefixCaching(prefixCaching));
        engines.add(e);
        return e;
    }

    static SamplingParams greedyIgnoreEos(int max) {
        return SamplingParams.greedy(max).toBuilder().ignoreEos(true).build();
    }

    /** All golden prompts at once; a small token budget chunks the 616-token prompt. */
    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void greedyGenerationMatchesTransformers(String model) {
        GoldenReference ref = GoldenReference.load(dir(model));
        for (int budget : new int[] {2048, 64}) {
            Engine e = engine(model, 512, 16, budget, true);
            List<Collector> cs = new ArrayList<>();
            for (int i = 0; i < ref.prompts().size(); i++) {
                GoldenReference.Prompt p = ref.prompts().get(i);
                cs.add(submit(e, "p" + i, p.inputIds(), greedyIgnoreEos(p.greedyIds().length)));
            }
            for (int i = 0; i < cs.size(); i++) checkGreedy(model + " budget " + budget + " prompt " + i, ref.prompts().get(i), cs.get(i).tokens());
        }
    }

    /** Teacher-forced: equal up to the first step where transformers' top two were within 2e-3 and we took the other. */
    static void checkGreedy(String what, GoldenReference.Prompt p, int[] got) {
        assertThat(got).as(what).hasSize(p.greedyIds().length);
        for (int i = 0; i < got.length; i++) {
            int token = got[i];
            if (token == p.greedyIds()[i]) continue;
            if (p.greedyMargins()[i] < 2e-3 && Arrays.stream(p.greedyTop2()[i]).anyMatch(t -> t == token)) return;
            fail(what + ": step " + i + " gave " + got[i] + ", transformers " + p.greedyIds()[i] + " (margin " + p.greedyMargins()[i]
                    + ")\n got " + Arrays.toString(got) + "\nwant " + Arrays.toString(p.greedyIds()));
        }
    }

    static int[] prompt(int i) {
        Random rnd = new Random(i);
        int[] p = new int[3 + (i * 37) % 90];
        for (int k = 0; k < p.length; k++) p[k] = 2 + rnd.nextInt(4000);
        return p;
    }

    static int[][] run(Engine e, int n, boolean together) {
        int[][] out = new int[n][];
        Collector[] cs = new Collector[n];
        for (int i = 0; i < n; i++) {
            cs[i] = submit(e, "r" + i, prompt(i), greedyIgnoreEos(4 + i % 7));
            if (!together) out[i] = cs[i].tokens();
        }
        for (int i = 0; i < n; i++) out[i] = cs[i].tokens();
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void thirtyTwoConcurrentRequestsMatchEachAlone(String model) {
        int[][] alone = run(engine(model, 512, 16, 2048, false), 32, false);
        assertThat(run(engine(model, 512, 16, 2048, true), 32, true)).isDeepEqualTo(alone);
        assertThat(run(engine(model, 512, 16, 32, true), 32, true)).isDeepEqualTo(alone);
        Engine tight = engine(model, 20, 8, 2048, true);
        assertThat(run(tight, 32, true)).isDeepEqualTo(alone);
        assertThat(tight.stats().numPreemptions()).isPositive();
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void aSecondRequestWithTheSamePrefixComputesOnlyItsNewTokens(String model) {
        int[] longPrompt = GoldenReference.load(dir(model)).prompts().get(8).inputIds();
        int[] first = Arrays.copyOf(longPrompt, 500);
        int[] second = Arrays.copyOf(longPrompt, 530);
        int[] fresh = submit(engine(model, 128, 16, 2048, false), "x", second, greedyIgnoreEos(6)).tokens();

        Engine e = engine(model, 128, 16, 2048, true);
        submit(e, "a", first, greedyIgnoreEos(6)).await();
        long before = e.numComputedTokens();
        Collector b = submit(e, "b", second, greedyIgnoreEos(6));
        assertThat(b.tokens()).containsExactly(fresh);
        assertThat(b.await().cachedPromptTokens()).isEqualTo(496);
        assertThat(e.numComputedTokens() - before).isEqualTo(530 - 496 + 5);
        assertThat(e.stats().prefixCacheHits()).isEqualTo(496);
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void seededSamplingRepeatsAndTopKOneIsGreedy(String model) {
        Engine e = engine(model, 256, 16, 2048, true);
        int[] p = prompt(7);
        SamplingParams seeded = SamplingParams.builder().temperature(0.9).topP(0.95).topK(50).minP(0.01).seed(99L)
                .presencePenalty(0.1).frequencyPenalty(0.1).repetitionPenalty(1.1).maxTokens(16).ignoreEos(true).logprobs(3).build();
        int[] alone = submit(e, "s", p, seeded).tokens();
        List<Collector> crowd = new ArrayList<>();
        for (int i = 0; i < 6; i++) crowd.add(submit(e, "c" + i, prompt(20 + i), greedyIgnoreEos(10)));
        Collector again = submit(e, "s2", p, seeded);
        assertThat(again.tokens()).containsExactly(alone);
        assertThat(again.logprobs()).hasSize(16).allSatisfy(lp -> assertThat(lp.topIds()).hasSize(3));
        crowd.forEach(Collector::await);
        int[] greedy = submit(e, "g", p, greedyIgnoreEos(16)).tokens();
        SamplingParams topK1 = SamplingParams.builder().temperature(1.3).topK(1).maxTokens(16).ignoreEos(true).build();
        assertThat(submit(e, "k", p, topK1).tokens()).containsExactly(greedy);
        assertThat(alone).isNotEqualTo(greedy);
    }
}
