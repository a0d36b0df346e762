package dev.pdserve.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;


import static org.assertj.core.api.Assertions.assertThat;

/** The engine against transformers' own numbers for both golden models, all 9 prompts. */
class GoldenLogitsTest extends BothGoldenModels {
    static final float LOGIT_TOLERANCE = 1e-3f;
    static final double MARGIN = 2e-3;
    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void lastLogitsMatchTransformers(String name) {
        CausalLM model = model(name);
        for (GoldenReference.Prompt p : GoldenReference.load(dir(name)).prompts()) {
            try (SingleSequence seq = new SingleSequence(model, p.inputIds().length + 64)) {
                float[] logits = seq.feed(p.inputIds());
                assertThat(SingleSequence.maxAbsDiff(logits, p.lastLogits()))
                        .as("%s, prompt of %d tokens", name, p.inputIds().length).isLessThanOrEqualTo(LOGIT_TOLERANCE);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void teacherForcedGreedyStepsMatchTransformers(String name) {
        CausalLM model = model(name);
        int checked = 0;
        for (GoldenReference.Prompt p : GoldenReference.load(dir(name)).prompts()) {
            int[] greedy = p.greedyIds();
            try (SingleSequence seq = new SingleSequence(model, p.inputIds().length + greedy.length + 16)) {
                float[] logits = seq.feed(p.inputIds());
                for (int step = 0; step < greedy.length; step++) {
                    if (step == 1) assertThat(SingleSequence.maxAbsDiff(logits, p.stepLogits1())).isLessThanOrEqualTo(LOGIT_TOLERANCE);
                    if (step == 39) assertThat(SingleSequence.maxAbsDiff(logits, p.stepLogits39())).isLessThanOrEqualTo(LOGIT_TOLERANCE);
                    int ours = SingleSequence.argmax(logits);
                    if (p.greedyMargins()[step] > MARGIN) {
                        assertThat(ours).as("%s step %d of prompt %d tokens", name, step, p.inputIds().length).isEqualTo(greedy[step]);
                        checked++;
                    } else {
                        assertThat(p.greedyTop2()[step]).as("near-tie step %d", step).contains(ours);
                    }
                    logits = seq.feed(greedy[step]);
                }
            }
        }
        assertThat(checked).isGreaterThan(300);
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void top5AtEveryPromptPositionMatchesTransformers(String name) {
        CausalLM model = model(name);
        for (GoldenReference.Prompt p : GoldenReference.load(dir(name)).prompts()) {
            if (p.inputIds().length > 64) continue; // one token at a time is slow for the long prompt; the others cover it
            try (SingleSequence seq = new SingleSequence(model, p.inputIds().length + 16)) {
                for (int pos = 0; pos < p.inputIds().length; pos++) {
                    float[] logits = seq.feed(p.inputIds()[pos]);
                    assertThat(SingleSequence.argmax(logits)).as("%s position %d", name, pos).isIn(p.top5Ids()[pos][0], p.top5Ids()[pos][1]);
                }
            }
        }
    }
}
