package dev.pdserve.structured;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Matcher mechanics: UTF-8 split pieces, EOS and special tokens, rejection, rollback, applying masks. */
class MatcherTest {
    /** Byte tokens: one per byte (ids 2..257), plus multi-byte pieces, EOS 0 and a special token 1. */
    private static TokenVocabulary bytesVocab(String... pieces) {
        byte[][] t = new byte[258 + pieces.length][];
        for (int b = 0; b < 256; b++) t[2 + b] = new byte[] {(byte) b};
        for (int i = 0; i < pieces.length; i++) t[258 + i] = pieces[i].getBytes(StandardCharsets.UTF_8);
        return TokenVocabulary.of(t, new int[] {0});
    }

    @Test
    void piecesThatSplitACharacterAreAllowedExactlyWhereTheCharacterCan() {
        TokenVocabulary v = bytesVocab();
        CompiledConstraint c = StructuredFixtures.compile(v, Constraint.regex("\u65e5\u672c|\u00e9+"));
        Matcher m = c.newMatcher();
        long[] mask = new long[v.maskWords()];
        m.fillMask(mask);
        // 日 is E6 97 A5, 本 E6 9C AC, é C3 A9: only the lead bytes may start.
        assertThat(allowedBytes(mask)).containsExactlyInAnyOrder(0xE6, 0xC3);
        assertThat(m.accept(2 + 0xE6)).isTrue();
        m.fillMask(mask);
        assertThat(allowedBytes(mask)).containsExactly(0x97);
        assertThat(TokenMask.isAllowed(mask, 0)).as("no EOS in the middle of a character").isFalse();
        assertThat(m.accept(2 + 0x9C)).as("a byte no character continues with").isFalse();
        assertThat(m.accept(2 + 0x97)).isTrue();
        assertThat(m.accept(2 + 0xA5)).isTrue();
        m.fillMask(mask);
        assertThat(allowedBytes(mask)).containsExactly(0xE6);
    }

    @Test
    void tokensSpanningSeveralJsonTokensAndCharacterBoundaries() {
        // "é" split across tokens: a piece ending in the lead byte and one starting with the continuation byte.
        byte[] e = "\u00e9".getBytes(StandardCharsets.UTF_8);
        byte[][] t = new byte[8][];
        t[1] = "{\"a\":\"".getBytes(StandardCharsets.UTF_8);
        t[2] = new byte[] {'x', e[0]};
        t[3] = new byte[] {e[1], '"', '}'};
        t[4] = "\"}".getBytes(StandardCharsets.UTF_8);
        t[5] = new byte[] {e[1]};
        t[6] = "\"},".getBytes(StandardCharsets.UTF_8);
        t[7] = "{\"b\":".getBytes(StandardCharsets.UTF_8);
        TokenVocabulary v = TokenVocabulary.of(t, new int[] {0});
        CompiledConstraint c = StructuredFixtures.compile(v, Constraint.jsonSchema(SchemaValidator.STRICT.createObjectNode()
                .put("type", "object").set("properties", SchemaValidator.STRICT.createObjectNode().set("a", SchemaValidator.STRICT.createObjectNode().put("type", "string")))));
        Matcher m = c.newMatcher();
        assertThat(allowed(m, v)).containsExactly(1);
        m.accept(1);
        assertThat(allowed(m, v)).containsExactly(2, 4);
        m.accept(2);
        assertThat(allowed(m, v)).containsExactly(3, 5);
        m.accept(3);
        assertThat(m.isComplete()).isTrue();
        assertThat(allowed(m, v)).containsExactly(0);
        assertThat(m.mustStop()).isTrue();
    }

    @Test
    void specialAddedAndUnknownTokensAreNeverAllowedAndEosOnlyWhenComplete() {
        TokenVocabulary v = StructuredFixtures.v3();
        CompiledConstraint c = StructuredFixtures.compile(v, Constraint.jsonObject());
        long[] mask = new long[v.maskWords()];
        Matcher m = c.newMatcher();
        Random rnd = new Random(1);
        RandomWalk walk = new RandomWalk(c, false);
        assertThat(walk.walk(rnd, 200)).isNotNull();
        for (int step = 0; step < 40; step++) {
            m.fillMask(mask);
            for (int id = 128000; id < v.size(); id++) if (id != 1) assertThat(TokenMask.isAllowed(mask, id)).as("id %d", id).isFalse();
            assertThat(TokenMask.isAllowed(mask, 0)).as("BOS").isFalse();
            assertThat(TokenMask.isAllowed(mask, 1)).isEqualTo(m.isComplete());
            int[] ids = allowed(m, v);
            int pick = ids[rnd.nextInt(ids.length)];
            if (pick == 1) break;
            assertThat(m.accept(pick)).isTrue();
        }
        assertThat(v.tokenBytes(128803)).as("<｜User｜>, an added token not marked special").isNull();
    }

    @Test
    void rejectedTokensChangeNothingAndRollbackRestoresMasks() {
        TokenVocabulary v = StructuredFixtures.tiny();
        CompiledConstraint c = StructuredFixtures.compile(v, Constraint.grammar("root ::= \"[\" item (\",\" item)* \"]\"\nitem ::= [0-9]+ | root\n"));
        Matcher m = c.newMatcher();
        long[][] masks = new long[6][v.maskWords()];
        Random rnd = new Random(4);
        int[] taken = new int[5];
        for (int i = 0; i < 5; i++) {
            m.fillMask(masks[i]);
            int[] ids = allowed(m, v);
            int bad = firstNotAllowed(masks[i], v);
            assertThat(m.accept(bad)).isFalse();
            assertThat(m.numAccepted()).isEqualTo(i);
            taken[i] = ids[rnd.nextInt(ids.length)];
            if (v.isEos(taken[i])) break;
            assertThat(m.accept(taken[i])).isTrue();
        }
        Matcher copy = m.copy();
        m.rollback(3);
        long[] now = new long[v.maskWords()];
        m.fillMask(now);
        assertThat(now).isEqualTo(masks[2]);
        m.rollback(2);
        m.fillMask(now);
        assertThat(now).isEqualTo(masks[0]);
        assertThatThrownBy(() -> m.rollback(1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(copy.numAccepted()).as("a copy keeps its own history").isEqualTo(5);
    }

    @Test
    void rollbackOverEosUnterminates() {
        TokenVocabulary v = bytesVocab();
        Matcher m = StructuredFixtures.compile(v, Constraint.regex("ab?")).newMatcher();
        assertThat(m.accept(2 + 'a')).isTrue();
        assertThat(m.accept(0)).isTrue();
        assertThat(m.isTerminated()).isTrue();
        assertThat(m.accept(2 + 'b')).isFalse();
        m.rollback(1);
        assertThat(m.isTerminated()).isFalse();
        assertThat(m.accept(2 + 'b')).isTrue();
        assertThat(m.mustStop()).isTrue();
    }

    @Test
    void applyingAMaskBlocksExactlyTheClearedIds() {
        int vocab = 200;
        long[] mask = new long[4];
        float[] logits = new float[vocab + 10];
        Arrays.fill(logits, 1f);
        Random rnd = new Random(2);
        for (int id = 0; id < vocab; id++) if (rnd.nextInt(3) == 0 || (id >= 64 && id < 128)) mask[id >>> 6] |= 1L << id;
        mask[1] = -1L;
        TokenMask.apply(mask, logits, 5, vocab);
        for (int i = 0; i < 5; i++) assertThat(logits[i]).isEqualTo(1f);
        for (int id = 0; id < vocab; id++) assertThat(logits[5 + id]).isEqualTo(TokenMask.isAllowed(mask, id) ? 1f : Float.NEGATIVE_INFINITY);
        for (int i = 5 + vocab; i < logits.length; i++) assertThat(logits[i]).isEqualTo(1f);
        assertThat(TokenMask.count(mask, vocab)).isEqualTo((int) java.util.stream.IntStream.range(0, vocab).filter(id -> TokenMask.isAllowed(mask, id)).count());
    }

    @Test
    void compiledConstraintsAreCachedAndMasksFilledLazily() {
        StructuredOutputs so = new StructuredOutputs(StructuredFixtures.tiny());
        CompiledConstraint a = so.compile(Constraint.regex("[0-9]{1,40}"));
        assertThat(a.numCachedMasks()).isZero();
        assertThat(so.compile(Constraint.regex("[0-9]{1,40}"))).isSameAs(a);
        a.newMatcher().fillMask(new long[StructuredFixtures.tiny().maskWords()]);
        assertThat(a.numCachedMasks()).isEqualTo(1);
        assertThat(a.numStates()).isGreaterThan(40);
    }

    private static int[] allowed(Matcher m, TokenVocabulary v) {
        long[] mask = new long[v.maskWords()];
        m.fillMask(mask);
        return java.util.stream.IntStream.range(0, v.size()).filter(id -> TokenMask.isAllowed(mask, id)).toArray();
    }

    private static java.util.List<Integer> allowedBytes(long[] mask) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        for (int b = 0; b < 256; b++) if (TokenMask.isAllowed(mask, 2 + b)) out.add(b);
        return out;
    }

    private static int firstNotAllowed(long[] mask, TokenVocabulary v) {
        for (int id = 0; id < v.size(); id++) if (!TokenMask.isAllowed(mask, id) && v.tokenBytes(id) != null) return id;
        throw new AssertionError("everything allowed");
    }
}
