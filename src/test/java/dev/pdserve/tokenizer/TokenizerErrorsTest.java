package dev.pdserve.tokenizer;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every way a model folder's tokenizer can be wrong gives a TokenizerException naming the file and the reason. */
class TokenizerErrorsTest {
    private static final List<Map<String, Object>> HELLO = List.of(Map.of("role", "user", "content", "hello"));

    @Test
    void missingTokenizerJson(@TempDir Path dir) {
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("no tokenizer.json in " + dir);
        assertThatThrownBy(() -> Tokenizer.load(dir.resolve("does-not-exist")))
                .isInstanceOf(TokenizerException.class).hasMessageContaining("tokenizer.json");
    }

    @Test
    void tokenizerJsonThatIsNotJson(@TempDir Path dir) throws IOException {
        String good = Files.readString(TestModels.llama().resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer.json"), good.substring(0, good.length() / 2));
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void tokenizerJsonWithoutVocabulary(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("no model.vocab");
    }

    @Test
    void tokenizerJsonTheRustLibraryRejects(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("tokenizers library cannot load");
    }

    @Test
    void tokenizerConfigThatIsNotJson(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": ");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining(dir.resolve("tokenizer_config.json").toString())
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void modelWithoutChatTemplate(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertThat(tok.hasChatTemplate()).isFalse();
            assertThat(tok.bosTokenId()).isEqualTo(-1); // no tokenizer_config.json, so no named BOS
            assertThat(tok.encode("hi", true)[0]).isZero(); // the post-processor still adds it
            assertThatThrownBy(() -> tok.applyChatTemplate(HELLO, true, Map.of()))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining("has no chat template")
                    .hasMessageContaining(dir.toString());
        }
    }

    @Test
    void templateWithSyntaxError(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("chat_template.jinja"), "{% for m in messages %}{{ m.content }");
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertThatThrownBy(() -> tok.applyChatTemplate(HELLO, true, Map.of()))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining(dir.resolve("chat_template.jinja").toString())
                    .hasMessageContaining("failed to render");
        }
    }

    @Test
    void templateCallingAnUnknownFunction(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ no_such_function(messages) }}\"}");
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertThatThrownBy(() -> tok.applyChatTemplate(HELLO, true, Map.of()))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining(dir.resolve("tokenizer_config.json") + " (chat_template)")
                    .hasMessageContaining("no_such_function");
        }
    }

    @Test
    void templateThatRaises(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"chat_template": "{% if messages[0].role != 'system' %}{{ raise_exception('Conversations must start with a system message') }}{% endif %}"}
                """);
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertThatThrownBy(() -> tok.applyChatTemplate(HELLO, true, Map.of()))
                    .isInstanceOfSatisfying(ChatTemplateException.class, e -> assertThat(e.raisedByTemplate()).isTrue())
                    .hasMessage("Conversations must start with a system message"); // the template's words, for the API's 400
        }
    }

    @Test
    void chatTemplateOfTheWrongType(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 42}");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer_config.json")
                .hasMessageContaining("chat_template must be a string or a list");
    }

    @Test
    void closedTokenizerRefusesWork() {
        Tokenizer tok = Tokenizer.load(TestModels.llama());
        tok.close();
        tok.close(); // twice is fine
        assertThatThrownBy(() -> tok.encode("hi", true)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> tok.decode(new int[] {5}, true)).isInstanceOf(IllegalStateException.class);
    }
}
