package dev.pdserve.tokenizer;

import java.util.List;
import java.util.Map;

/**
 * What a chat request gives its template, as transformers' {@code apply_chat_template} takes it.
 *
 * @param messages             maps with "role", "content" and, as the API sent them, "tool_calls", "tool_call_id", ...
 * @param tools                the tools' JSON schemas, or null (the template sees None)
 * @param documents            documents for retrieval templates, or null
 * @param continueFinalMessage end the text inside the last message, for the model to continue it
 * @param kwargs               more template variables (chat_template_kwargs: enable_thinking, thinking, ...)
 * @param chatTemplate         a template to use instead of the model's, or null
 */
public record ChatTemplateInput(List<Map<String, Object>> messages, List<Object> tools, List<Object> documents,
                                boolean addGenerationPrompt, boolean continueFinalMessage, Map<String, Object> kwargs,
                                String chatTemplate) {
    public static ChatTemplateInput of(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        return new ChatTemplateInput(messages, null, null, addGenerationPrompt, false, Map.of(), null);
    }
}
