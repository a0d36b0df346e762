package dev.pdserve.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class IncrementalDecoderTest {
    private static Tokenizer tok;
    private static JsonNode cases;

    @BeforeAll
    static void load() throws IOException {
        tok = Tokenizer.load(TestModels.deepseek());
        cases = new ObjectMapper().readTree(TestModels.tokenizerReference().toFile()).get("cases");
    }

    @AfterAll
    static void close() { tok.close(); }

    /** Reference strings: CJK, Japanese, emoji with skin tone and ZWJ, accents, combining mark, zero-width, Cyrillic, Arabic, Korean. */
    @ParameterizedTest(name = "case {0}")
    @ValueSource(ints = {8, 9, 10, 12, 20, 21, 25, 26, 27, 0, 5, 7})
    void deltasConcatenateToTheFullDecode(int index) {
        int[] generated = TokenizerReferenceTest.ints(cases.get(index).get("ids_no_special"));
        for (boolean skip : new boolean[] {true, false}) {
            int[] prompt = tok.encode(tok.applyChatTemplate(List.of(Map.of("role", "user", "content", "say it")), true, null), false);
            IncrementalDecoder decoder = new IncrementalDecoder(tok, prompt, skip);
            List<String> deltas = new ArrayList<>();
            for (int id : generated) deltas.add(decoder.add(id));

            assertThat(String.join("", deltas)).isEqualTo(tok.decode(generated, skip)).isEqualTo(decoder.text());
            assertThat(decoder.text()).isEqualTo(cases.get(index).get("text").asText());
            for (String delta : deltas) assertCleanUtf16(delta);
        }
    }

    @Test
    void holdsBackACharacterSplitAcrossByteTokens() {
        // "😀" is four bytes, spread over byte-level tokens: nothing may come out until the last one.
        int[] ids = tok.encode("😀", false);
        assertThat(ids.length).isGreaterThan(1);
        IncrementalDecoder decoder = new IncrementalDecoder(tok, tok.encode("hi", true), true);
        for (int i = 0; i < ids.length - 1; i++) assertThat(decoder.add(ids[i])).isEmpty();
        assertThat(decoder.add(ids[ids.length - 1])).isEqualTo("😀");
    }

    @Test
    void specialTokensAreSkippedOrKept() {
        int[] ids = tok.encode("<｜Assistant｜>4<｜end▁of▁sentence｜>", false);
        IncrementalDecoder skipping = new IncrementalDecoder(tok, new int[] {0, 3}, true);
        IncrementalDecoder keeping = new IncrementalDecoder(tok, new int[] {0, 3}, false);
        StringBuilder skipped = new StringBuilder(), kept = new StringBuilder();
        for (int id : ids) {
            skipped.append(skipping.add(id));
            kept.append(keeping.add(id));
        }
        assertThat(skipped.toString()).isEqualTo("4");
        assertThat(kept.toString()).isEqualTo("<｜Assistant｜>4<｜end▁of▁sentence｜>");
    }

    @Test
    void emptyPromptAndLongGenerationsStayCheap() {
        String text = "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)  # 斐波那契 🧮\n".repeat(120);
        int[] ids = tok.encode(text, false);
        assertThat(ids.length).isGreaterThan(3000);
        IncrementalDecoder decoder = new IncrementalDecoder(tok, new int[0], true);
        int maxBuffered = 0;
        for (int id : ids) {
            assertCleanUtf16(decoder.add(id));
            maxBuffered = Math.max(maxBuffered, decoder.bufferedTokens());
        }
        assertThat(decoder.text()).isEqualTo(text);
        assertThat(maxBuffered).as("tokens kept for decoding").isLessThanOrEqualTo(128);
    }

    private static void assertCleanUtf16(String delta) {
        assertThat(delta).doesNotContain("\uFFFD");
        for (int i = 0; i < delta.length(); i++) {
            char c = delta.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertThat(i + 1 < delta.length() && Character.isLowSurrogate(delta.charAt(i + 1))).as("lone high surrogate in %s", delta).isTrue();
                i++;
            } else {
                assertThat(Character.isLowSurrogate(c)).as("lone low surrogate in %s", delta).isFalse();
            }
        }
    }
}
