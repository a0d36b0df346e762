package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Prompt lookup as vLLM's ngram proposer: the longest suffix match, earliest on ties, what followed it. */
class NgramDrafterTest {
    static int[] propose(int[] context, int min, int max, int k) {
        int[] t = Arrays.copyOf(context, context.length + k);
        int n = NgramDrafter.propose(t, context.length, min, max, k);
        return Arrays.copyOfRange(t, context.length, context.length + n);
    }

    @Test
    void copiesWhatFollowedTheLongestMatch() {
        // suffix "3 4": matched at 1..2 (followed by 9) and at 5..6 with the longer "2 3 4" (followed by 7 8)
        int[] c = {1, 3, 4, 9, 2, 3, 4, 7, 8, 5, 2, 3, 4};
        assertThat(propose(c, 1, 3, 2)).containsExactly(7, 8);
        assertThat(propose(c, 1, 2, 2)).as("max 2: the earliest 2-gram wins").containsExactly(9, 2);
        assertThat(propose(c, 4, 5, 2)).as("nothing of length 4").isEmpty();
    }

    @Test
    void neverCopiesPastTheEndOfTheContext() {
        int[] c = {5, 6, 7, 5, 6};
        assertThat(propose(c, 2, 2, 4)).containsExactly(7, 5, 6);
        assertThat(propose(new int[] {4, 4, 4}, 1, 3, 3)).as("overlapping runs").containsExactly(4);
        assertThat(propose(new int[] {1, 2}, 1, 2, 3)).isEmpty();
        assertThat(propose(new int[] {7}, 1, 1, 3)).isEmpty();
    }
}
