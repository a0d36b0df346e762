package dev.pdserve.tokenizer.jinja;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every template of the corpus (src/test/resources/chat-templates, real templates of open models)
 * with every conversation of conversations.json renders byte for byte what Python jinja2 renders as
 * transformers configures it (the .expected.json files, written by src/test/python/render_chat_templates.py);
 * where jinja2 fails, this fails too, and a template's raise_exception gives its message.
 */
class ChatTemplateCorpusTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Path CORPUS = Path.of("src/test/resources/chat-templates");

    static Stream<Arguments> cases() throws IOException {
        JsonNode spec = JSON.readTree(CORPUS.resolve("conversations.json").toFile());
        List<Arguments> out = new ArrayList<>();
        List<Path> templates;
        try (Stream<Path> files = Files.list(CORPUS)) {
            templates = files.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
        assertThat(templates).hasSizeGreaterThanOrEqualTo(40);
        for (Path template : templates) {
            String name = template.getFileName().toString().replace(".jinja", "");
            JsonNode expected = JSON.readTree(CORPUS.resolve(name + ".expected.json").toFile()).get("cases");
            for (JsonNode c : spec.get("cases")) {
                assertThat(expected.has(c.get("name").asText())).as(name + " has " + c.get("name")).isTrue();
                out.add(Arguments.of(name, c.get("name").asText(), c, expected.get(c.get("name").asText()), spec));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void rendersAsJinja2(String template, String caseName, JsonNode c, JsonNode expected, JsonNode spec) throws IOException {
        String source = Files.readString(CORPUS.resolve(template + ".jinja"));
        Map<String, Object> vars = variables(c, spec);
        Clock clock = Clock.fixed(LocalDateTime.parse(spec.get("now").asText()).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        if (expected.has("text")) {
            assertThat(Template.parse(source).render(vars, clock)).isEqualTo(expected.get("text").asText());
        } else if (expected.has("raised")) {
            assertThatThrownBy(() -> Template.parse(source).render(vars, clock))
                    .isInstanceOfSatisfying(TemplateException.class, e -> assertThat(e.raisedByTemplate()).isTrue())
                    .hasMessage(expected.get("raised").asText());
        } else {
            assertThatThrownBy(() -> Template.parse(source).render(vars, clock))
                    .isInstanceOfSatisfying(TemplateException.class, e -> assertThat(e.raisedByTemplate()).isFalse());
        }
    }

    /** What transformers passes: messages, tools and documents (None without), add_generation_prompt, special tokens, kwargs. */
    static Map<String, Object> variables(JsonNode c, JsonNode spec) {
        Map<String, Object> vars = new HashMap<>(JSON.convertValue(spec.get("variables"), Map.class));
        if (c.has("kwargs")) vars.putAll(JSON.convertValue(c.get("kwargs"), Map.class));
        vars.put("messages", JSON.convertValue(c.get("messages"), List.class));
        vars.put("tools", c.path("tools").asBoolean() ? JSON.convertValue(spec.get("tools"), List.class) : null);
        vars.put("documents", c.path("documents").asBoolean() ? JSON.convertValue(spec.get("documents"), List.class) : null);
        vars.put("add_generation_prompt", c.get("add_generation_prompt").asBoolean());
        return vars;
    }
}
