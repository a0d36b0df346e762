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
            assertThatThrownBy(() -> tok.applyChatTemplate(messages, generationPrompt, extra))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining("chat_template.jinja")
                    .hasMessageContaining(c.get("error").asText());
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
    void pythonStringMethods() {
        assertThat(render("{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|"))
                .isEqualTo("a b|a|a|a|");
        assertThat(render("{{ 'a,b,'.split(',') | length }} {{ ' a  b '.split() | join('+') }} {{ 'a.b.c'.split('.', 1)[-1] }}"))
                .isEqualTo("3 a+b b.c");
        assertThat(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }}"))
                .isEqualTo("true true true");
        assertThat(render("{{ 'Ab'.upper() }} {{ 'Ab'.lower() }} {{ 'hello wORLD'.title() }} {{ 'hello'.capitalize() }}"))
                .isEqualTo("AB ab Hello World Hello");
        assertThat(render("{{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c'.replace('-', '+', 1) }} {{ '-'.join(['x', 'y']) }} {{ 'banana'.count('a') }} {{ 'abc'.find('c') }}"))
                .isEqualTo("a+b+c a+b-c x-y 3 2");
    }

    @Test
    void pythonJson() {
        assertThat(render("{{ {'a': [1, 2.5, none, true], 'b': 'é\"\\n'} | tojson }}"))
                .isEqualTo("{\"a\": [1, 2.5, null, true], \"b\": \"é\\\"\\n\"}");
        assertThat(render("{% set d = {'b': 1, 'a': {}} %}{{ d | tojson(sort_keys=true) }}")).isEqualTo("{\"a\": {}, \"b\": 1}");
        assertThat(render("{{ [1, [2]] | tojson(indent=2) }}")).isEqualTo("[\n  1,\n  [\n    2\n  ]\n]");
        assertThat(render("{{ 'é' | tojson(ensure_ascii=true) }}")).isEqualTo("\"\\u00e9\"");
        assertThat(PythonJson.floatRepr(1e-5)).isEqualTo("1e-05");
        assertThat(PythonJson.floatRepr(1e16)).isEqualTo("1e+16");
        assertThat(PythonJson.floatRepr(123456789.0)).isEqualTo("123456789.0");
        assertThat(PythonJson.floatRepr(0.1)).isEqualTo("0.1");
        assertThat(PythonJson.floatRepr(-2.5e-7)).isEqualTo("-2.5e-07");
    }

    @Test
    void notNegatesTheWholeTestOrComparisonAsInJinja() {
        assertThat(render("{% if not x is defined %}undefined{% endif %}")).isEqualTo("undefined");
        assertThat(render("{% set x = false %}{% if not x is defined %}undefined{% else %}defined{% endif %}")).isEqualTo("defined");
        assertThat(render("{{ not 1 == 2 }} {{ not [1, 2] | length == 1 }} {{ not 'a' in 'abc' }} {{ 'z' not in 'abc' }}"))
                .isEqualTo("true true false true");
        assertThat(render("{{ not false and false }} {{ not (false and false) }} {{ not none }}")).isEqualTo("false true true");
    }

    @Test
    void addingNoneFailsAsInPython() {
        // Jinjava alone renders 'x' + none as "xnull"; a null message content must fail loudly instead.
        assertThatThrownBy(() -> render("{{ '<｜Assistant｜>' + none }}"))
                .isInstanceOf(TokenizerException.class).hasMessageContaining("unsupported operand for +: str and None");
        assertThatThrownBy(() -> render("{{ 'a' + missing.content }}")).isInstanceOf(TokenizerException.class);
        assertThat(render("{{ 'a' + 'b' }} {{ 1 + 2 }} {{ ([1] + [2]) | length }} {{ 'a' ~ none }}")).isEqualTo("ab 3 2 a");
    }

    @Test
    void reversedSlicesAsQwenTemplatesUseThem() {
        assertThat(render("{% set xs = [1, 2, 3] %}{% for x in xs[::-1] %}{{ x }}{% endfor %}|{{ xs[::-1] | first }}|[::-1]"))
                .isEqualTo("321|3|[::-1]");
        assertThat(JinjaEngine.withReversedSlices("a[::-1] {{ m.content[0][::-1] }}")).isEqualTo("a[::-1] {{ (m.content[0]|reverse|list) }}");
    }

    @Test
    void loopsAndNamespaces() {
        assertThat(render("{% set ns = namespace(n=0) %}{% for x in [3, 4] %}{% set ns.n = ns.n + x %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}={{ ns.n }}"))
                .isEqualTo("3,4=7");
        assertThat(render("{% for k, v in {'a': 1}.items() %}{{ k }}{{ v }}{% endfor %}{% for k in {'z': 1} %}{{ k }}{% endfor %}"))
                .isEqualTo("a1z");
        assertThat(render("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}"))
                .isEqualTo("02");
        assertThat(render("{{ strftime_now('%Y') | length }}")).isEqualTo("4");
        assertThat(render("{% generation %}kept{% endgeneration %}")).isEqualTo("kept");
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

    /** Renders a bare template through the same engine, with the llama-tiny special tokens. */
    private static String render(String template) {
        return new ChatTemplate(template, "test").render(new HashMap<>(Map.of("bos_token", "<s>")));
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) throw new IOException("missing test resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
