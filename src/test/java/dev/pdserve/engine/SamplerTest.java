package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SamplerTest {
    static final int V = 8;

    static SamplingParams params(double temperature, double topP, int topK, double minP, Long seed) {
        return SamplingParams.builder().temperature(temperature).topP(topP).topK(topK).minP(minP).seed(seed).maxTokens(100).build();
    }

    /** Greedy, up to 10 tokens: what the tests below vary. */
    static SamplingParams.Builder greedy() { return SamplingParams.greedy(10).toBuilder(); }

    static Request req(SamplingParams p, long seed, int... prompt) {
        return new Request("r", prompt, p, o -> {}, 4, seed, null);
    }

    /** Samples {@code r}'s next token from one logits row, as a step whose batch holds only {@code r}. */
    static SamplerOutput sampleOne(Sampler s, Request r, float... logits) {
        ScheduledBatch batch = new ScheduledBatch();
        batch.add(r, r.numTokens - r.numComputed);
        return s.sample(batch, logits.clone());
    }

    static int sample(Sampler s, Request r, float... logits) { return sampleOne(s, r, logits).token(0); }

    @Test
    void greedyTakesTheArgmaxAndTheLowestIdOnTies() {
        Sampler s = new Sampler(V, new int[] {1});
        Request r = req(SamplingParams.greedy(5), 0, 3);
        assertThat(sample(s, r, 0, 1, 5, 2, 5, 0, 0, 0)).isEqualTo(2);
        assertThat(sample(s, r, -3, -1, -5, -2, -5, -9, -1, -4)).isEqualTo(1);
    }

    @Test
    void topKOneIsGreedyAndSeededDrawsRepeat() {
        Sampler s = new Sampler(V, new int[] {1});
        float[] logits = {0.5f, 1, 1.2f, 0.9f, 1.1f, 0.2f, 0.3f, 1.19f};
        assertThat(sample(s, req(params(1.5, 1, 1, 0, 7L), 7, 3), logits)).isEqualTo(2);
        Request a = req(params(1.0, 1, 0, 0, 7L), 42, 3), b = req(params(1.0, 1, 0, 0, 7L), 42, 3);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            int x = sample(s, a, logits);
            assertThat(sample(s, b, logits)).isEqualTo(x);
            seen.add(x);
        }
        assertThat(seen).hasSizeGreaterThan(4); // temperature 1 over flat logits really samples
    }

    @Test
    void topPAndMinPKeepOnlyTheHead() {
        Sampler s = new Sampler(V, new int[] {1});
        // probabilities about 0.6, 0.22, 0.08, ... : top_p 0.7 keeps ids 5 and 2 only.
        float[] logits = {0, 0, 2, 0, 0, 3, 1, 0};
        Request r = req(params(1, 0.7, 0, 0, 1L), 1, 3);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 300; i++) seen.add(sample(s, r, logits));
        assertThat(seen).containsExactlyInAnyOrder(5, 2);
        r = req(params(1, 1, 0, 0.3, 1L), 1, 3);
        seen.clear();
        for (int i = 0; i < 300; i++) seen.add(sample(s, r, logits));
        assertThat(seen).containsExactlyInAnyOrder(5, 2); // exp(-1) = 0.37 >= 0.3, exp(-2) < 0.3
        r = req(params(1, 1, 2, 0, 1L), 1, 3);
        seen.clear();
        for (int i = 0; i < 300; i++) seen.add(sample(s, r, logits));
        assertThat(seen).containsExactlyInAnyOrder(5, 2);
    }

    @Test
    void topKOverALargeVocabularyDrawsOnlyFromTheKBest() {
        int vocab = 5000;
        Sampler s = new Sampler(vocab, new int[] {1});
        java.util.Random rnd = new java.util.Random(3);
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float) rnd.nextGaussian();
        Integer[] ids = new Integer[vocab];
        for (int i = 0; i < vocab; i++) ids[i] = i;
        java.util.Arrays.sort(ids, (a, b) -> Float.compare(logits[b], logits[a]));
        for (int k : new int[] {5, 300}) {
            Set<Integer> best = new HashSet<>(java.util.Arrays.asList(ids).subList(0, k));
            Request r = req(params(2.0, 1, k, 0, 5L), 5, 3);
            Set<Integer> seen = new HashSet<>();
            for (int i = 0; i < 3000; i++) seen.add(sample(s, r, logits));
            assertThat(best).containsAll(seen);
            assertThat(seen.size()).isGreaterThan(k == 5 ? 4 : 200);
        }
    }

    @Test
    void aBatchSamplesOnlyItsEntriesThatReachTheirLastTokenFromTheirOwnRows() {
        Sampler s = new Sampler(V, new int[] {1});
        Request chunk = req(SamplingParams.greedy(5), 0, 3, 3, 3, 3), a = req(SamplingParams.greedy(5), 0, 3), b = req(SamplingParams.greedy(5), 0, 3);
        ScheduledBatch batch = new ScheduledBatch();
        batch.add(a, 1);
        batch.add(chunk, 2); // half of its prompt: no logits row
        batch.add(b, 1);
        assertThat(batch.samples(1)).isFalse();
        float[] rows = {0, 0, 0, 0, 0, 0, 9, 0, /* b: */ 0, 0, 9, 0, 0, 0, 0, 0};
        SamplerOutput out = s.sample(batch, rows);
        assertThat(out.token(0)).isEqualTo(6);
        assertThat(out.token(1)).isEqualTo(SamplerOutput.NO_TOKEN);
        assertThat(out.token(2)).isEqualTo(2);
        assertThat(out.logprob(0)).isNull();
    }

    @Test
    void minTokensSuppressesEosAndStopIdsUnlessIgnoreEos() {
        Sampler s = new Sampler(V, new int[] {1});
        SamplingParams p = greedy().stopTokenIds(4).minTokens(2).build();
        Request r = req(p, 0, 3);
        float[] logits = {0, 9, 0, 0, 8, 0, 7, 0};
        assertThat(sample(s, r, logits)).isEqualTo(6);
        r.tokens[r.numTokens++] = 6;
        r.tokens[r.numTokens++] = 6;
        assertThat(sample(s, r, logits)).isEqualTo(1);
        SamplingParams ignore = greedy().stopTokenIds(4).minTokens(2).ignoreEos(true).build();
        assertThat(sample(s, req(ignore, 0, 3), logits)).isEqualTo(1);
    }

    @Test
    void penaltiesFollowVllm() {
        Sampler s = new Sampler(V, new int[] {1});
        // repetition 2 on prompt token 2 (logit 4 -> 2) and output token 3 (-1 -> -2); 5 untouched at 3.
        SamplingParams rep = greedy().repetitionPenalty(2).build();
        Request r = req(rep, 0, 2);
        r.tokens[r.numTokens++] = 3;
        assertThat(sample(s, r, 0, 0, 4, -1, 0, 3, 0, 0)).isEqualTo(5);
        // frequency 1 and presence 0.5 apply to output tokens only: 6 appears twice (5 -> 2.5), 2 is only in the prompt.
        SamplingParams fp = greedy().presencePenalty(0.5).frequencyPenalty(1).build();
        r = req(fp, 0, 2);
        r.tokens[r.numTokens++] = 6;
        r.tokens[r.numTokens++] = 6;
        assertThat(sample(s, r, 0, 0, 3, 0, 0, 2.7f, 5, 0)).isEqualTo(2);
        assertThat(sample(s, r, 0, 0, 0, 0, 0, 2.4f, 5, 0)).isEqualTo(6);
    }

    @Test
    void logprobsAreThoseOfTheRawLogits() {
        Sampler s = new Sampler(V, new int[] {1});
        SamplingParams p = greedy().repetitionPenalty(2).logprobs(3).build();
        Request r = req(p, 0, 2);
        float[] logits = {0, 0, 4, 1, 0, 3, 0, 0};
        SamplerOutput out = sampleOne(s, r, logits);
        assertThat(out.token(0)).isEqualTo(5); // repetition penalty halves token 2
        TokenLogprob lp = out.logprob(0);
        double lse = Math.log(6 * Math.exp(0) + Math.exp(4) + Math.exp(1) + Math.exp(3) - 1);
        assertThat(lp.tokenId()).isEqualTo(5);
        assertThat((double) lp.logprob()).isCloseTo(3 - lse, within(1e-5));
        assertThat(lp.topIds()).containsExactly(2, 5, 3);
        assertThat((double) lp.topLogprobs()[0]).isCloseTo(4 - lse, within(1e-5));
    }

    @Test
    void logprobsMinusOneReportsTheWholeVocabularyInOrder() {
        Sampler s = new Sampler(V, new int[] {1});
        TokenLogprob lp = sampleOne(s, req(greedy().logprobs(-1).build(), 0, 2), 0, 7, 1, 6, 2, 5, 3, 4).logprob(0);
        assertThat(lp.topIds()).containsExactly(1, 3, 5, 7, 6, 4, 2, 0);
    }
}
