package dev.pdserve.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A DeepSeek-V3-like and a Llama-3-like template (namespace, loop.last, string methods, tojson(indent),
 * raise_exception, slicing, whitespace control) against what Python Jinja2 renders with transformers'
 * settings: chat-template-cases.json, written by make_chat_template_cases.py next to it.
 */
class ChatTemplateTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<Map<String, Object>>> MESSAGES = new TypeReference<>() {};
    private static final String RESOURCES = "/dev/pdserve/tokenizer/";
    @TempDir static Path tmp;
    private static final Map<String, Tokenizer> byTemplate = new HashMap<>();

    @BeforeAll
    static void modelsWithTestTemplates() throws IOException {
        for (String template : List.of("deepseek-v3-like.jinja", "llama-3-like.jinja")) {
            Path dir = Files.createDirectories(tmp.resolve(template));
            Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
            Files.copy(TestModels.llama().resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
            Files.writeString(dir.resolve("chat_template.jinja"), resource(template));
            byTemplate.put(template, Tokenizer.load(dir));
        }
    }

    @AfterAll
    static void close() { byTemplate.values().forEach(Tokenizer::close); }

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : JSON.readTree(resource("chat-template-cases.json"))) out.add(Arguments.of(c.get("name").asText(), c));
        assertThat(out).hasSizeGreaterThanOrEqualTo(9);
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersLikeJinja2(String name, JsonNode c) {
        Tokenizer tok = byTemplate.get(c.get("template").asText());
        List<Map<String, Object>> messages = JSON.convertValue(c.get("messages"), MESSAGES);
        Map<String, Object> extra = JSON.convertValue(c.get("extra"), new TypeReference<Map<String, Object>>() {});
        boolean generationPrompt = c.get("add_generation_prompt").asBoolean();
        if (c.has("error")) {
            // raise_exception: the template's own message, for the API's 400
            assertThatThrownBy(() -> tok.applyChatTemplate(messages, generationPrompt, extra))
                    .isInstanceOfSatisfying(ChatTemplateException.class, e -> assertThat(e.raisedByTemplate()).isTrue())
                    .hasMessage(c.get("error").asText());
        } else {
            assertThat(tok.applyChatTemplate(messages, generationPrompt, extra)).isEqualTo(c.get("text").asText());
        }
    }

    @Test
    void messageTextIsNeverInterpretedAsTemplate() {
        String out = byTemplate.get("deepseek-v3-like.jinja").applyChatTemplate(
                List.of(Map.of("role", "user", "content", "{{ 7 * 7 }}{% if true %}X{% endif %}")), false, Map.of());
        assertThat(out).isEqualTo("<｜begin▁of▁sentence｜><｜User｜>{{ 7 * 7 }}{% if true %}X{% endif %}");
    }

    @Test
    void requestTemplateToolsKwargsAndContinueFinalMessage() {
        Tokenizer tok = byTemplate.get("llama-3-like.jinja");
        String template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                + "{{ tools | tojson }}|{{ documents }}|{{ mode | default('none') }}{% if add_generation_prompt %}<gen>{% endif %}";
        List<Map<String, Object>> messages = List.of(Map.of("role", "user", "content", "hé"));
        List<Object> tools = List.of(Map.of("function", Map.of("name", "f")));
        assertThat(tok.applyChatTemplate(new ChatTemplateInput(messages, tools, null, true, false, Map.of("mode", 2), template)))
                .isEqualTo("<｜begin▁of▁sentence｜>[user:hé][{\"function\": {\"name\": \"f\"}}]|None|2<gen>");
        assertThat(tok.applyChatTemplate(new ChatTemplateInput(messages, null, null, false, false, Map.of(), template)))
                .endsWith("null|None|none");

        // continue_final_message: the text ends inside the last message, as transformers cuts it
        String turns = "{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endfor %}";
        List<Map<String, Object>> partial = List.of(Map.of("role", "user", "content", "hi"), Map.of("role", "assistant", "content", "The answer is "));
        assertThat(tok.applyChatTemplate(new ChatTemplateInput(partial, null, null, false, true, Map.of(), turns)))
                .isEqualTo("<user>hi</user><assistant>The answer is");
        assertThatThrownBy(() -> tok.applyChatTemplate(new ChatTemplateInput(partial, null, null, true, true, Map.of(), turns)))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("continue_final_message and add_generation_prompt are not compatible");
        assertThatThrownBy(() -> tok.applyChatTemplate(new ChatTemplateInput(partial, null, null, false, true, Map.of(), "{{ 'x' }}")))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("the final message does not appear");

        assertThatThrownBy(() -> tok.applyChatTemplate(new ChatTemplateInput(messages, null, null, true, false, Map.of(), "{% if %}")))
                .isInstanceOfSatisfying(ChatTemplateException.class, e -> assertThat(e.raisedByTemplate()).isFalse())
                .hasMessageContaining("chat template from the request failed to render: TemplateSyntaxError");
        assertThatThrownBy(() -> tok.applyChatTemplate(new ChatTemplateInput(messages, null, null, true, false, Map.of(), "{{ messages[0].content.nope() }}")))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("failed to render");
    }

    @Test
    void listOfNamedTemplatesUsesDefault(@TempDir Path dir) throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "<｜begin▁of▁sentence｜>", "__type": "AddedToken"}, "eos_token": "<｜end▁of▁sentence｜>",
                 "chat_template": [{"name": "tool_use", "template": "TOOLS"}, {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}"}]}
                """);
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertThat(tok.applyChatTemplate(List.of(Map.of("role", "user", "content", "hey")), true, null))
                    .isEqualTo("<｜begin▁of▁sentence｜>hey");
            assertThat(tok.bosTokenId()).isZero();
        }
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) throw new IOException("missing test resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
