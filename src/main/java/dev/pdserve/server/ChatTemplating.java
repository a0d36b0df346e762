package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;
import dev.pdserve.tokenizer.ChatTemplateException;
import dev.pdserve.tokenizer.ChatTemplateInput;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a chat request ({@code /v1/chat/completions}, {@code /tokenize} with messages) gives the chat
 * template, as vLLM passes it: messages, tools (as vLLM's models dump them), documents,
 * add_generation_prompt, continue_final_message and chat_template, which {@code chat_template_kwargs}
 * may override (over {@code --default-chat-template-kwargs}), and the rest of the kwargs as template
 * variables. A template sent with the request is used only with {@code --trust-request-chat-template}.
 * Template failures are the request's fault: a 400 with the template's message.
 *
 * @param trustRequestTemplate  --trust-request-chat-template
 * @param defaultKwargs         --default-chat-template-kwargs
 * @param defaultTemplate       --chat-template (null: the model's)
 */
public record ChatTemplating(boolean trustRequestTemplate, Map<String, Object> defaultKwargs, String defaultTemplate) {
    public static final ChatTemplating DEFAULT = new ChatTemplating(false, Map.of(), null);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * From serve's flags. {@code chatTemplate} is a file, or (as vLLM reads it) the template itself
     * when it holds any of "{}\n"; {@code defaultKwargsJson} a JSON object or null.
     */
    @SuppressWarnings("unchecked")
    public static ChatTemplating fromFlags(String chatTemplate, boolean trust, String defaultKwargsJson) {
        String template = null;
        if (chatTemplate != null) {
            Path file = Path.of(chatTemplate);
            try {
                if (Files.isRegularFile(file)) template = Files.readString(file);
                else if (chatTemplate.chars().anyMatch(c -> c == '{' || c == '}' || c == '\n')) template = chatTemplate;
                else throw new IllegalArgumentException("--chat-template: no such file " + chatTemplate);
            } catch (IOException e) {
                throw new IllegalArgumentException("--chat-template: cannot read " + chatTemplate + ": " + e.getMessage());
            }
        }
        Map<String, Object> kwargs = Map.of();
        if (defaultKwargsJson != null) {
            try {
                kwargs = JSON.readValue(defaultKwargsJson, LinkedHashMap.class);
            } catch (IOException | ClassCastException e) {
                throw new IllegalArgumentException("--default-chat-template-kwargs must be a JSON object: " + e.getMessage());
            }
        }
        return new ChatTemplating(trust, kwargs, template);
    }

    /** Renders the request's conversation; {@code messages} are the already checked messages. */
    String render(JsonFields f, List<Map<String, Object>> messages, TextCodec codec) {
        ChatTemplateInput input = input(f, messages);
        if (input.chatTemplate() == null && !codec.hasChatTemplate()) {
            throw ApiException.badRequest(null, "The model has no chat template; use /v1/completions instead, or give --chat-template");
        }
        try {
            return codec.applyChatTemplate(input);
        } catch (ChatTemplateException e) {
            throw ApiException.badRequest(null, e.getMessage());
        }
    }

    @SuppressWarnings("unchecked")
    ChatTemplateInput input(JsonFields f, List<Map<String, Object>> messages) {
        Map<String, Object> kwargs = new LinkedHashMap<>();
        kwargs.put("add_generation_prompt", f.bool("add_generation_prompt", true));
        kwargs.put("continue_final_message", f.bool("continue_final_message", false));
        kwargs.put("tools", tools(f.get("tools")));
        kwargs.put("documents", f.has("documents") ? JSON.convertValue(f.get("documents"), List.class) : null);
        kwargs.put("chat_template", f.string("chat_template", null));
        kwargs.putAll(defaultKwargs);
        ObjectNode requestKwargs = f.object("chat_template_kwargs");
        if (requestKwargs != null) {
            if (requestKwargs.has("tokenize")) {
                throw ApiException.badRequest("chat_template_kwargs", "Found unexpected chat template kwargs from request: {'tokenize'}");
            }
            kwargs.putAll(JSON.convertValue(requestKwargs, Map.class));
        }
        Object template = kwargs.remove("chat_template");
        if (template != null && !trustRequestTemplate) {
            throw ApiException.badRequest("chat_template", "Chat template is passed with request, but --trust-request-chat-template "
                    + "is not set. Refused request with untrusted chat template.");
        }
        if (template != null && !(template instanceof String)) throw ApiException.badRequest("chat_template", "chat_template must be a string");
        boolean generationPrompt = flag(kwargs.remove("add_generation_prompt"), "add_generation_prompt");
        boolean continueFinal = flag(kwargs.remove("continue_final_message"), "continue_final_message");
        if (generationPrompt && continueFinal) {
            throw ApiException.badRequest(null, "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
        }
        return new ChatTemplateInput(messages, list(kwargs.remove("tools"), "tools"), list(kwargs.remove("documents"), "documents"),
                generationPrompt, continueFinal, kwargs, template != null ? (String) template : defaultTemplate);
    }

    /** vLLM's ChatCompletionToolsParam.model_dump(): type, function {name, description, parameters, ...}, absent ones None. */
    private static List<Object> tools(JsonNode tools) {
        if (tools == null || tools.isNull()) return null;
        if (!tools.isArray()) throw ApiException.badRequest("tools", "'tools' must be a list of tools");
        List<Object> out = new ArrayList<>();
        for (JsonNode tool : tools) {
            JsonNode function = tool.get("function");
            if (!tool.isObject() || function == null || !function.isObject() || !function.path("name").isTextual()) {
                throw ApiException.badRequest("tools", "each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
            }
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("name", function.get("name").textValue());
            f.put("description", JSON.convertValue(function.get("description"), Object.class));
            f.put("parameters", JSON.convertValue(function.get("parameters"), Object.class));
            function.properties().forEach(e -> f.putIfAbsent(e.getKey(), JSON.convertValue(e.getValue(), Object.class)));
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("type", tool.path("type").asText("function"));
            t.put("function", f);
            tool.properties().forEach(e -> t.putIfAbsent(e.getKey(), JSON.convertValue(e.getValue(), Object.class)));
            out.add(t);
        }
        return out;
    }

    private static boolean flag(Object v, String name) {
        if (v instanceof Boolean b) return b;
        throw ApiException.badRequest(name, "'" + name + "' must be a boolean");
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object v, String name) {
        if (v == null || v instanceof List) return (List<Object>) v;
        throw ApiException.badRequest(name, "'" + name + "' must be a list");
    }
}
