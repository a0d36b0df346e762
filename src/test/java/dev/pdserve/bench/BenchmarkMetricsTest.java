package dev.pdserve.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The metric math against values worked out by hand (and numpy's percentile definition). */
class BenchmarkMetricsTest {
    static final double EPS = 1e-9;

    /** Three successes and one failure over 2 s; every number below is computed by hand from these. */
    static List<RequestResult> sample() {
        return List.of(
                new RequestResult(true, "", 0.0, 0.1, new double[] {0.02, 0.03, 0.05}, 0.2, 10, 4, true, "abcd", 0),
                new RequestResult(true, "", 0.1, 0.3, new double[] {0.1}, 0.4, 20, 2, true, "ab", 0),
                new RequestResult(true, "", 0.5, 0.05, new double[0], 0.05, 5, 1, true, "a", 0),
                RequestResult.failure("HTTP 500: boom", 0.2, 0.01, 8, 0));
    }

    @Test
    void numpyPercentilesWithLinearInterpolation() {
        double[] v = {4, 1, 3, 2};
        assertThat(Percentiles.percentile(v, 0)).isEqualTo(1);
        assertThat(Percentiles.percentile(v, 25)).isCloseTo(1.75, within(EPS)); // numpy.percentile([1,2,3,4], 25)
        assertThat(Percentiles.percentile(v, 50)).isCloseTo(2.5, within(EPS));
        assertThat(Percentiles.percentile(v, 90)).isCloseTo(3.7, within(EPS));
        assertThat(Percentiles.percentile(v, 99)).isCloseTo(3.97, within(EPS));
        assertThat(Percentiles.percentile(v, 100)).isEqualTo(4);
        assertThat(Percentiles.percentile(new double[] {7}, 99)).isEqualTo(7);
        assertThat(Percentiles.percentile(new double[0], 99)).isZero(); // vLLM: np.percentile(xs or 0, p)
        assertThat(Percentiles.std(new double[] {2, 4, 4, 4, 5, 5, 7, 9})).isCloseTo(2.0, within(EPS)); // population std
        assertThat(v).containsExactly(4, 1, 3, 2); // input untouched
        assertThatThrownBy(() -> Percentiles.percentile(v, 101)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void countsThroughputsAndLatencies() {
        BenchmarkMetrics m = BenchmarkMetrics.compute(sample(), 2.0, new double[] {50, 90, 99}, Goodput.none());
        assertThat(m.completed()).isEqualTo(3);
        assertThat(m.failed()).isEqualTo(1);
        assertThat(m.totalInput()).isEqualTo(35); // failed requests' prompts are not counted, as in vLLM
        assertThat(m.totalOutput()).isEqualTo(7);
        assertThat(m.outputLens()).containsExactly(4, 2, 1, 0);
        assertThat(m.requestThroughput()).isCloseTo(1.5, within(EPS));
        assertThat(m.outputThroughput()).isCloseTo(3.5, within(EPS));
        assertThat(m.totalTokenThroughput()).isCloseTo(21.0, within(EPS));
        assertThat(m.requestGoodput()).isNaN();
        assertThat(m.failureReasons()).containsExactly(java.util.Map.entry("HTTP 500: boom", 1));

        var ttft = m.stats().get("ttft"); // 0.05, 0.1, 0.3 s
        assertThat(ttft.meanMs()).isCloseTo(150, within(1e-6));
        assertThat(ttft.medianMs()).isCloseTo(100, within(1e-6));
        assertThat(ttft.stdMs()).isCloseTo(1000 * Math.sqrt(0.035 / 3), within(1e-6));
        assertThat(ttft.valuesMs()).containsExactly(new double[] {100, 260, 296}, within(1e-6));

        var tpot = m.stats().get("tpot"); // (0.2-0.1)/3 and (0.4-0.3)/1; the 1-token request has none
        assertThat(tpot.rawSeconds()).hasSize(2);
        assertThat(tpot.meanMs()).isCloseTo((100.0 / 3 + 100) / 2, within(1e-6));
        assertThat(tpot.valuesMs()[2]).isCloseTo(100.0 / 3 + 0.99 * (100 - 100.0 / 3), within(1e-6));

        var itl = m.stats().get("itl"); // 0.02, 0.03, 0.05, 0.1 s
        assertThat(itl.meanMs()).isCloseTo(50, within(1e-6));
        assertThat(itl.medianMs()).isCloseTo(40, within(1e-6));
        assertThat(itl.valuesMs()[2]).isCloseTo(98.5, within(1e-6));

        var e2el = m.stats().get("e2el"); // 0.05, 0.2, 0.4 s
        assertThat(e2el.meanMs()).isCloseTo(650.0 / 3, within(1e-6));
        assertThat(e2el.medianMs()).isCloseTo(200, within(1e-6));

        // [0, 0.2) and [0.1, 0.5) overlap; [0.5, 0.55) starts as the second ends.
        assertThat(m.maxConcurrentRequests()).isEqualTo(2);
        assertThat(m.maxOutputTokensPerS()).isEqualTo(7); // 4 + 2 + 1 chunks, all in the first second
    }

    @Test
    void goodputCountsRequestsMeetingEverySlo() {
        // ttft <= 150 ms and tpot <= 50 ms: request 1 (100 ms, 33 ms) and request 3 (50 ms, tpot 0) are good.
        var g = Goodput.parse(List.of("ttft:150", "tpot:50"));
        assertThat(BenchmarkMetrics.compute(sample(), 2.0, new double[] {99}, g).requestGoodput()).isCloseTo(1.0, within(EPS));
        // e2el <= 100 ms: only request 3.
        var e = Goodput.parse(List.of("e2el:100"));
        assertThat(BenchmarkMetrics.compute(sample(), 2.0, new double[] {99}, e).requestGoodput()).isCloseTo(0.5, within(EPS));
        // An SLO equal to the value passes (vLLM: slo >= value).
        var edge = Goodput.parse(List.of("ttft:300"));
        assertThat(BenchmarkMetrics.compute(sample(), 2.0, new double[] {99}, edge).requestGoodput()).isCloseTo(1.5, within(EPS));
    }

    @Test
    void badGoodputSpecsAreRefusedWithAClearMessage() {
        assertThatThrownBy(() -> Goodput.parse(List.of("ttft=5"))).hasMessageContaining("KEY:VALUE");
        assertThatThrownBy(() -> Goodput.parse(List.of("itl:5"))).hasMessageContaining("ttft, tpot, e2el");
        assertThatThrownBy(() -> Goodput.parse(List.of("tpot:-1"))).hasMessageContaining(">= 0");
    }

    @Test
    void allFailedGivesZerosNotErrors() {
        var m = BenchmarkMetrics.compute(List.of(RequestResult.failure("x", 0, 0, 1, 0)), 1.0, new double[] {99}, Goodput.none());
        assertThat(m.completed()).isZero();
        assertThat(m.failed()).isEqualTo(1);
        assertThat(m.stats().get("ttft").meanMs()).isZero();
        assertThat(m.maxOutputTokensPerS()).isZero();
    }
}
