package dev.pdserve.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** models/tokenizer-reference.json (made with Hugging Face tokenizers and transformers), for both golden models. */
class TokenizerReferenceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<Map<String, Object>>> MESSAGES = new TypeReference<>() {};
    private static JsonNode reference;
    private static final Map<String, Tokenizer> tokenizers = new LinkedHashMap<>();

    @BeforeAll
    static void load() throws IOException {
        reference = JSON.readTree(TestModels.tokenizerReference().toFile());
        tokenizers.put("deepseek-v3-tiny", Tokenizer.load(TestModels.deepseek()));
        tokenizers.put("llama-tiny", Tokenizer.load(TestModels.llama()));
    }

    @AfterAll
    static void close() { tokenizers.values().forEach(Tokenizer::close); }

    static Stream<Arguments> cases() throws IOException {
        JsonNode ref = JSON.readTree(TestModels.tokenizerReference().toFile());
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of("deepseek-v3-tiny", "llama-tiny")) {
            for (int i = 0; i < ref.get("cases").size(); i++) out.add(Arguments.of(model, i));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} case {1}")
    @MethodSource("cases")
    void encodesAndDecodesLikeHuggingFace(String model, int index) {
        Tokenizer tok = tokenizers.get(model);
        JsonNode c = reference.get("cases").get(index);
        String text = c.get("text").asText();
        int[] ids = ints(c.get("ids"));
        int[] idsNoSpecial = ints(c.get("ids_no_special"));

        assertThat(tok.encode(text, true)).as("ids of %s", c.get("text")).containsExactly(ids);
        assertThat(tok.encode(text, false)).as("ids_no_special of %s", c.get("text")).containsExactly(idsNoSpecial);
        // "decoded" is the text of ids_no_special (no BOS in front); skipping special tokens drops the BOS anyway.
        assertThat(tok.decode(idsNoSpecial, false)).isEqualTo(c.get("decoded").asText());
        assertThat(tok.decode(idsNoSpecial, true)).isEqualTo(c.get("decoded_skip_special").asText());
        assertThat(tok.decode(ids, true)).isEqualTo(c.get("decoded_skip_special").asText());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void rendersTheReferenceChats(String model) {
        Tokenizer tok = tokenizers.get(model);
        assertThat(tok.hasChatTemplate()).isTrue();
        assertThat(reference.get("chat").size()).isEqualTo(2);
        for (JsonNode chat : reference.get("chat")) {
            List<Map<String, Object>> messages = JSON.convertValue(chat.get("messages"), MESSAGES);
            String text = tok.applyChatTemplate(messages, chat.get("add_generation_prompt").asBoolean(), Map.of());
            assertThat(text).isEqualTo(chat.get("text").asText());
            // The template already wrote BOS, so the prompt is tokenized without adding special tokens (as vLLM does).
            assertThat(tok.encode(text, false)).containsExactly(ints(chat.get("ids")));
        }
    }

    static Stream<String> models() { return Stream.of("deepseek-v3-tiny", "llama-tiny"); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void specialTokensAndVocabulary(String model) {
        Tokenizer tok = tokenizers.get(model);
        assertThat(tok.vocabSize()).isEqualTo(4096);
        assertThat(tok.bosToken()).isEqualTo("<｜begin▁of▁sentence｜>");
        assertThat(tok.eosToken()).isEqualTo("<｜end▁of▁sentence｜>");
        assertThat(tok.bosTokenId()).isZero();
        assertThat(tok.eosTokenId()).isEqualTo(1);
        assertThat(tok.tokenText(3)).isEqualTo("<｜User｜>");
        assertThat(tok.tokenText(4)).isEqualTo("<｜Assistant｜>");
        assertThat(tok.isSpecial(0)).isTrue();
        assertThat(tok.isSpecial(4)).isTrue();
        assertThat(tok.isSpecial(325)).isFalse();
        // "Hello, world!" -> ... 325 is " w": byte-level pieces spell a space as Ġ
        assertThat(tok.tokenText(325)).isEqualTo("Ġw");
        assertThat(tok.tokenText(4096)).isNull();
        assertThat(tok.tokenText(-1)).isNull();
    }

    @Test
    void decodesASubrange() {
        Tokenizer tok = tokenizers.get("llama-tiny");
        int[] ids = tok.encode("Hello, world!", true);
        assertThat(tok.decode(ids, 1, ids.length, false)).isEqualTo("Hello, world!");
        assertThat(tok.decode(ids, 0, 1, false)).isEqualTo("<｜begin▁of▁sentence｜>");
        assertThat(tok.decode(ids, 0, 1, true)).isEmpty();
        assertThat(tok.decode(ids, 3, 3, false)).isEmpty();
    }

    @Test
    void oddInputsGiveJavaErrorsNotNativeCrashes() {
        Tokenizer tok = tokenizers.get("llama-tiny");
        assertThatThrownBy(() -> tok.encode(null, true)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> tok.decode(new int[] {1, 2}, 1, 3, false)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(tok.decode(new int[] {-1, 999_999, 4018, Integer.MIN_VALUE}, false)).isEqualTo("Hel"); // unknown ids are skipped
        assertThat(tok.decode(tok.encode("a\u0000b", false), false)).isEqualTo("a\u0000b");
        // A lone surrogate (valid JSON, invalid text) becomes U+FFFD and leaves the rest intact.
        assertThat(tok.decode(tok.encode("a\u0000b\uD800c😀\uDC00", false), false)).isEqualTo("a\u0000b\uFFFDc😀\uFFFD");
    }

    @Test
    void longPromptIsNotTruncated() {
        // DJL truncates to 512 tokens unless told not to; a server must never cut a prompt silently.
        Tokenizer tok = tokenizers.get("deepseek-v3-tiny");
        String text = "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n".repeat(60);
        int[] ids = tok.encode(text, true);
        assertThat(ids.length).isGreaterThan(1500);
        assertThat(tok.decode(ids, true)).isEqualTo(text);
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
