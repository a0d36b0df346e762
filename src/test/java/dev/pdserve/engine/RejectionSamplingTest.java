package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.model.GoldenReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Temperature > 0: a verified draft's outcome is distributed exactly as plain sampling. Draws
 * from {@link Sampler#verify} with a draft against draws from the plain sampler, over the tiny
 * model's real next-token logits, compared by a chi-square test of homogeneity. Seeds are fixed,
 * so the statistic is the same on every run; the threshold is the 1e-6 tail, and the same test
 * shown a sampler that skips the residual correction fails it by far.
 */
class RejectionSamplingTest {
    static final int DRAWS = 20_000;

    static Request request(SamplingParams p, long seed) {
        return new Request("x", new int[] {5, 6, 7}, p, o -> {}, 16, seed, null);
    }

    /** {@code DRAWS} picks in order; {@code draft < 0} samples plainly. */
    static int[] draws(float[] logits, SamplingParams p, int draft, long seed) {
        Sampler s = new Sampler(logits.length, new int[] {1});
        Request r = request(p, seed);
        int[] out = new int[DRAWS];
        float[] row = new float[logits.length];
        for (int i = 0; i < DRAWS; i++) {
            System.arraycopy(logits, 0, row, 0, logits.length);
            out[i] = s.verify(row, 0, r, draft);
        }
        return out;
    }

    static long[] counts(int[] draws, int vocab) {
        long[] c = new long[vocab];
        for (int t : draws) c[t]++;
        return c;
    }

    /** Chi-square statistic of homogeneity of two equal-sized samples, bins with fewer than 20 draws lumped; [stat, df]. */
    static double[] chiSquare(long[] a, long[] b) {
        List<long[]> bins = new ArrayList<>();
        long restA = 0, restB = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] + b[i] >= 20) bins.add(new long[] {a[i], b[i]});
            else { restA += a[i]; restB += b[i]; }
        }
        if (restA + restB > 0) bins.add(new long[] {restA, restB});
        double stat = 0;
        for (long[] x : bins) stat += (double) (x[0] - x[1]) * (x[0] - x[1]) / (x[0] + x[1]);
        return new double[] {stat, bins.size() - 1};
    }

    /** The chi-square quantile at 1 - 1e-6 (Wilson-Hilferty). */
    static double critical(double df) {
        double z = 4.753, h = 2 / (9 * df);
        return df * Math.pow(1 - h + z * Math.sqrt(h), 3);
    }

    static int rank(float[] logits, int r) {
        Integer[] ids = new Integer[logits.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        java.util.Arrays.sort(ids, (x, y) -> Float.compare(logits[y], logits[x]));
        return ids[r];
    }

    @ParameterizedTest(name = "prompt {0}, T={1}, top_k={2}, top_p={3}, min_p={4}, draft rank {5}")
    @CsvSource({
            "0, 1.0, 0, 1.0, 0.0, 0",
            "3, 0.8, 0, 1.0, 0.0, 2",
            "5, 1.6, 40, 1.0, 0.0, 1",
            "6, 1.8, 0, 0.9, 0.0, 3",
            "7, 2.0, 20, 0.95, 0.001, 0",
            "2, 2.0, 8, 1.0, 0.0, 30",   // a draft the top-k filter removes: always rejected
    })
    void aVerifiedDraftIsDistributedAsPlainSampling(int prompt, double t, int topK, double topP, double minP, int draftRank) {
        float[] logits = GoldenReference.load(TestModels.llama()).prompts().get(prompt).lastLogits();
        SamplingParams p = SamplingParams.builder().temperature(t).topK(topK).topP(topP).minP(minP).maxTokens(4).build();
        int draft = rank(logits, draftRank);
        long[] plain = counts(draws(logits, p, Sampler.NO_DRAFT, 11), logits.length);
        long[] verified = counts(draws(logits, p, draft, 12), logits.length);
        double[] x = chiSquare(verified, plain);
        assertThat(x[1]).as("degrees of freedom").isGreaterThanOrEqualTo(2);
        assertThat(x[0]).as("chi-square over " + (int) x[1] + " df").isLessThan(critical(x[1]));
        if (draftRank >= 30) assertThat(verified[draft]).isZero();

        // The test has power: "accept with p(draft), else sample plainly" (no residual) is told apart.
        double pd = plain[draft] / (double) DRAWS;
        if (pd > 0.05) {
            int[] again = draws(logits, p, Sampler.NO_DRAFT, 13);
            java.util.Random rnd = new java.util.Random(14);
            for (int i = 0; i < DRAWS; i++) if (rnd.nextDouble() < pd) again[i] = draft;
            double[] w = chiSquare(counts(again, logits.length), plain);
            assertThat(w[0]).as("a sampler without the residual").isGreaterThan(critical(w[1]));
        }
    }
}
