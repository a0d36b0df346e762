package dev.pdserve.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.tokenizer.jinja.Template;
import dev.pdserve.tokenizer.jinja.TemplateException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Hugging Face chat template, parsed once and rendered as transformers renders it (see
 * {@link Template}). Thread-safe.
 */
final class ChatTemplate {
    private final Template template;    // null when the source does not parse
    private final TemplateException unreadable;
    private final String origin;

    /**
     * A template that does not parse fails when used, as in transformers: the model still serves completions.
     *
     * @param origin where the template came from, for error messages (a file, or a file and field)
     */
    ChatTemplate(String source, String origin) {
        this.origin = origin;
        Template parsed = null;
        TemplateException error = null;
        try {
            parsed = Template.parse(source);
        } catch (TemplateException e) {
            error = e;
        }
        this.template = parsed;
        this.unreadable = error;
    }

    /**
     * The model's template, as transformers picks it: chat_template.jinja next to tokenizer_config.json
     * wins; else tokenizer_config.json's "chat_template", a string or a list of {name, template} of which
     * the one named "default" is used. Null when there is none.
     */
    static ChatTemplate find(Path modelDir, JsonNode tokenizerConfig) {
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinjaFile)) {
            try {
                return new ChatTemplate(Files.readString(jinjaFile), jinjaFile.toString());
            } catch (IOException e) {
                throw new TokenizerException("cannot read " + jinjaFile + ": " + e);
            }
        }
        Path configFile = modelDir.resolve("tokenizer_config.json");
        JsonNode template = tokenizerConfig.get("chat_template");
        if (template == null || template.isNull()) return null;
        if (template.isTextual()) return new ChatTemplate(template.asText(), configFile + " (chat_template)");
        if (template.isArray()) {
            for (JsonNode named : template) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return new ChatTemplate(named.path("template").asText(), configFile + " (chat_template \"default\")");
                }
            }
            throw new TokenizerException(configFile + " has several chat templates but none named \"default\"");
        }
        throw new TokenizerException(configFile + ": chat_template must be a string or a list of {name, template}, not " + template.getNodeType());
    }

    String render(Map<String, Object> variables) {
        try {
            if (unreadable != null) throw unreadable;
            return template.render(variables);
        } catch (TemplateException e) {
            if (e.raisedByTemplate()) throw new ChatTemplateException(e.getMessage(), true);
            throw new ChatTemplateException("chat template from " + origin + " failed to render: " + e.getMessage(), false);
        }
    }
}
