package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.structured.CompiledConstraint;
import dev.pdserve.structured.Constraint;
import dev.pdserve.structured.StructuredOutputs;
import dev.pdserve.structured.TokenVocabulary;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The engine's structured output hook over {@link FakeLM} (hash logits: no preference for the
 * constraint's text): every sequence of a batch follows its own matcher, a complete output that
 * cannot go on stops even under ignore_eos, max_tokens first ends with length, logprobs are of
 * the masked distribution, and preemption keeps the matcher.
 */
class EngineStructuredOutputTest {
    static Tokenizer tokenizer;
    static StructuredOutputs outputs;
    final List<Engine> engines = new ArrayList<>();

    @BeforeAll
    static void load() {
        tokenizer = Tokenizer.load(TestModels.llama());
        outputs = new StructuredOutputs(TokenVocabulary.load(tokenizer, TestModels.llama(), EngineTest.V, new int[] {1}));
    }

    @AfterAll
    static void close() { tokenizer.close(); }

    private Engine engine(int numBlocks) {
        FakeLM model = new FakeLM(EngineTest.V);
        long bytes = numBlocks * PagedKvCache.blockBytes(model.numLayers(), 16, model.kvEntryFloats());
        return new Engine(model, tokenizer, EngineConfig.defaults(512).withKvCacheBytes(bytes).withMaxNumSeqs(64));
    }

    private static SamplingParams constrained(CompiledConstraint c, int maxTokens, long seed) {
        return SamplingParams.builder().maxTokens(maxTokens).temperature(1).seed(seed).ignoreEos(true).logprobs(1).structured(c).build();
    }

    @Test
    void everySequenceFollowsItsConstraint() {
        CompiledConstraint regex = outputs.compile(Constraint.regex("(ab|cd)[0-9]{2,4}x"));
        CompiledConstraint choice = outputs.compile(Constraint.choice(List.of("alpha", "beta gamma")));
        try (Engine e = engine(256)) {
            List<Collector> rs = new ArrayList<>(), cs = new ArrayList<>(), free = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                rs.add(EngineTest.submit(e, "r" + i, EngineTest.prompt(i, 5 + i), constrained(regex, 40, i)));
                cs.add(EngineTest.submit(e, "c" + i, EngineTest.prompt(100 + i, 7), constrained(choice, 40, i)));
                free.add(EngineTest.submit(e, "f" + i, EngineTest.prompt(200 + i, 6), SamplingParams.builder().maxTokens(12).ignoreEos(true).seed((long) i).build()));
            }
            for (Collector c : rs) {
                assertThat(tokenizer.decode(c.tokens(), true)).matches("(ab|cd)[0-9]{2,4}x");
                assertThat(c.await().finishReason()).isEqualTo(FinishReason.STOP);
                for (TokenLogprob lp : c.logprobs()) assertThat(lp.logprob()).isGreaterThan(Float.NEGATIVE_INFINITY);
            }
            for (Collector c : cs) assertThat(tokenizer.decode(c.tokens(), true)).isIn("alpha", "beta gamma");
            // unconstrained neighbours in the same batches are not masked
            for (Collector c : free) assertThat(c.tokens()).hasSize(12);
        }
    }

    @Test
    void maxTokensFirstIsLength() {
        CompiledConstraint c = outputs.compile(Constraint.regex("[a-z]{30}"));
        try (Engine e = engine(64)) {
            Collector r = EngineTest.submit(e, "a", EngineTest.prompt(1, 4), constrained(c, 3, 1));
            assertThat(r.await().finishReason()).isEqualTo(FinishReason.LENGTH);
            assertThat(tokenizer.decode(r.tokens(), true)).matches("[a-z]{1,30}");
        }
    }

    @Test
    void preemptionKeepsTheMatcher() {
        CompiledConstraint c = outputs.compile(Constraint.regex("[0-9]{40,60}"));
        // few blocks: long outputs of many requests force preemption and recompute
        try (Engine e = engine(12)) {
            List<Collector> rs = new ArrayList<>();
            for (int i = 0; i < 6; i++) rs.add(EngineTest.submit(e, "p" + i, EngineTest.prompt(i, 10), constrained(c, 80, i)));
            for (Collector r : rs) assertThat(tokenizer.decode(r.tokens(), true)).matches("[0-9]{40,60}");
            assertThat(e.stats().numPreemptions()).isPositive();
        }
    }
}
