package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** vLLM's stop checks, one token at a time, over {@link OutputTextTest}'s token pieces (EOS is id 1). */
class StopRulesTest {
    final StopRules rules = new StopRules(new int[] {1}, 12);

    Request request(SamplingParams p) {
        return new Request("r", new int[] {2, 3}, p, o -> {}, 4, 0,
                new OutputText(OutputTextTest.pieces().create(new int[0], true), p.stop(), p.includeStopStrInOutput()));
    }

    /** Feeds tokens until the rules end the request; returns how many it took (-1: never). */
    static int feed(StopRules rules, Request r, int... tokens) {
        for (int i = 0; i < tokens.length; i++) {
            r.append(tokens[i]);
            if (rules.check(r, tokens[i])) return i + 1;
        }
        return -1;
    }

    static SamplingParams.Builder upTo(int maxTokens) { return SamplingParams.greedy(maxTokens).toBuilder(); }

    @Test
    void eosStopsWithoutAStopReasonUnlessIgnoredOrBeforeMinTokens() {
        Request r = request(upTo(8).build());
        assertThat(feed(rules, r, 2, 1, 3)).isEqualTo(2);
        assertThat(r.finishReason).isEqualTo(FinishReason.STOP);
        assertThat(r.stopReason).isNull();
        assertThat(r.text.fullText()).isEqualTo("Hel"); // EOS's text is left out
        assertThat(feed(rules, request(upTo(8).ignoreEos(true).build()), 1, 1, 1)).isEqualTo(-1);
        assertThat(feed(rules, request(upTo(8).minTokens(3).build()), 1, 1, 1)).isEqualTo(3);
    }

    @Test
    void aStopTokenIdIsTheStopReasonAndItsTextOnlyWhenAsked() {
        Request r = request(upTo(8).stopTokenIds(6).build());
        assertThat(feed(rules, r, 2, 3, 6, 4)).isEqualTo(3);
        assertThat(r.stopReason).isEqualTo(6);
        assertThat(r.text.fullText()).isEqualTo("Hello");
        Request with = request(upTo(8).stopTokenIds(6).includeStopStrInOutput(true).build());
        feed(rules, with, 2, 3, 6);
        assertThat(with.text.fullText()).isEqualTo("Hello!");
    }

    @Test
    void aStopStringEndsTheTextWhereItStarts() {
        Request r = request(upTo(8).stop(List.of("lo w")).build());
        assertThat(feed(rules, r, 2, 3, 4, 5)).isEqualTo(3);
        assertThat(r.finishReason).isEqualTo(FinishReason.STOP);
        assertThat(r.stopReason).isEqualTo("lo w");
        assertThat(r.text.fullText()).isEqualTo("Hel");
    }

    @Test
    void maxTokensAndMaxModelLenEndWithLength() {
        Request r = request(upTo(3).build());
        assertThat(feed(rules, r, 2, 3, 4, 5)).isEqualTo(3);
        assertThat(r.finishReason).isEqualTo(FinishReason.LENGTH);
        // 2 prompt tokens: the 10th output token fills max-model-len 12 before max_tokens 20.
        Request full = request(upTo(20).build());
        assertThat(feed(rules, full, 2, 3, 4, 5, 2, 3, 4, 5, 2, 3, 4, 5)).isEqualTo(10);
        assertThat(full.finishReason).isEqualTo(FinishReason.LENGTH);
    }
}
