package dev.pdserve.bench;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The arrival process, checked on the schedule itself (no clock). */
class ArrivalScheduleTest {
    private static final int N = 40_000;

    @ParameterizedTest(name = "rate {0}/s, burstiness {1}")
    @CsvSource({"10, 1.0", "10, 0.25", "10, 4.0", "250, 2.0"})
    void gapsHaveTheRequestedMeanAndCoefficientOfVariation(double rate, double k) {
        double[] g = ArrivalSchedule.gaps(N, rate, k, 42);
        double mean = Percentiles.mean(g), sd = Percentiles.std(g);
        double expectedMean = 1 / rate, expectedCv = 1 / Math.sqrt(k);
        // Standard error of the mean is sd/sqrt(N); allow 4 of them.
        assertThat(mean).isCloseTo(expectedMean, within(4 * expectedMean * expectedCv / Math.sqrt(N)));
        // The CV of a gamma sample settles within a few percent at this N (sd of CV ~ cv * sqrt((1 + 1.5/k... )/N)).
        assertThat(sd / mean).isCloseTo(expectedCv, within(0.05 * expectedCv));
        assertThat(java.util.Arrays.stream(g).min().orElseThrow()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void sameSeedSameScheduleOtherSeedOther() {
        assertThat(ArrivalSchedule.offsets(100, 5, 0.5, 1)).containsExactly(ArrivalSchedule.offsets(100, 5, 0.5, 1));
        assertThat(ArrivalSchedule.offsets(100, 5, 0.5, 1)).isNotEqualTo(ArrivalSchedule.offsets(100, 5, 0.5, 2));
    }

    @Test
    void offsetsAreCumulativeAndEndAtNOverRate() {
        double[] t = ArrivalSchedule.offsets(500, 20, 1.0, 3);
        for (int i = 1; i < t.length; i++) assertThat(t[i]).isGreaterThanOrEqualTo(t[i - 1]);
        assertThat(t[0]).isGreaterThan(0);
        assertThat(t[t.length - 1]).isCloseTo(500 / 20.0, within(1e-9)); // vLLM rescales to exactly n / rate
        double[] raw = ArrivalSchedule.offsets(500, 20, 1.0, 3, false);
        double[] gaps = ArrivalSchedule.gaps(500, 20, 1.0, 3);
        assertThat(raw[0]).isEqualTo(gaps[0]);
        assertThat(raw[1]).isCloseTo(gaps[0] + gaps[1], within(1e-12));
    }

    @Test
    void infiniteRateSendsEverythingAtOnceAndInfiniteBurstinessIsEvenlySpaced() {
        assertThat(ArrivalSchedule.offsets(5, Double.POSITIVE_INFINITY, 1.0, 0)).containsOnly(0.0);
        assertThat(ArrivalSchedule.offsets(4, 2, Double.POSITIVE_INFINITY, 0)).containsExactly(new double[] {0.5, 1.0, 1.5, 2.0}, within(1e-12));
    }

    @Test
    void badParametersAreRefused() {
        assertThatThrownBy(() -> ArrivalSchedule.offsets(3, 0, 1, 0)).hasMessageContaining("--request-rate");
        assertThatThrownBy(() -> ArrivalSchedule.offsets(3, 1, 0, 0)).hasMessageContaining("--burstiness");
    }
}
