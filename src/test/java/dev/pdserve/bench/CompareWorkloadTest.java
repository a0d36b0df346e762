package dev.pdserve.bench;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CompareWorkloadTest {
    static HfPromptTokenizer tok;

    @BeforeAll
    static void load() {
        tok = HfPromptTokenizer.load(TestModels.deepseek());
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    @Test
    void mixedHasTheAskedShareOfLongPromptsShuffledAndSeeded() {
        List<SampleRequest> w = CompareWorkload.mixed(tok, 20, 16, 64, 300, 2, 0.3, 7);
        assertThat(w).hasSize(20);
        List<SampleRequest> longOnes = w.stream().filter(r -> r.expectedOutputLen() == 2).toList();
        assertThat(longOnes).hasSize(6).allSatisfy(r -> assertThat(r.promptLen()).isBetween(290, 310));
        assertThat(w.stream().filter(r -> r.expectedOutputLen() == 64))
                .hasSize(14).allSatisfy(r -> assertThat(r.promptLen()).isBetween(12, 20));
        assertThat(w.getFirst().expectedOutputLen()).isEqualTo(64);
        // Long prompts arrive among the short ones, not all at the end.
        int firstLong = w.indexOf(longOnes.getFirst());
        assertThat(firstLong).isLessThan(14);
        assertThat(CompareWorkload.mixed(tok, 20, 16, 64, 300, 2, 0.3, 7)).isEqualTo(w);
        assertThat(CompareWorkload.mixed(tok, 20, 16, 64, 300, 2, 0.3, 8)).isNotEqualTo(w);
    }

    @Test
    void edgeFractionsAndBadInput() {
        assertThat(CompareWorkload.mixed(tok, 5, 16, 8, 100, 2, 0.0, 1)).allMatch(r -> r.expectedOutputLen() == 8);
        // All long would leave no decode to disturb: one short request is kept.
        assertThat(CompareWorkload.mixed(tok, 5, 16, 8, 100, 2, 1.0, 1)).filteredOn(r -> r.expectedOutputLen() == 8).hasSize(1);
        assertThatThrownBy(() -> CompareWorkload.mixed(tok, 5, 16, 8, 100, 2, 1.5, 1)).hasMessageContaining("--long-fraction");
        assertThatThrownBy(() -> CompareWorkload.mixed(tok, 0, 16, 8, 100, 2, 0.5, 1)).hasMessageContaining("--num-prompts");
    }
}
