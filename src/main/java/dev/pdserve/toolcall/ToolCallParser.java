package dev.pdserve.toolcall;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Reads tool calls out of a model's text in one model family's format (vLLM's
 * {@code --tool-call-parser NAME}). {@link #scan} is called on the whole text so far, while it
 * streams and once more when it is finished; what it returns must only grow from one call to the
 * next (content is a prefix of later content, a call's arguments a prefix of its later arguments),
 * so {@link ToolCallStream} can send the differences. Text that is not part of a complete call is
 * content, never lost: when finished, an unfinished or malformed call's text is content.
 */
public interface ToolCallParser {
    /** One call as far as it is known: its name (null until known), its arguments' JSON text so far, and whether it is whole. */
    record Call(String name, String arguments, boolean complete) {}

    /** What a text holds: the content outside tool calls, and the calls in order. */
    record Scan(String content, List<Call> calls) {
        public List<Call> completeCalls() { return calls.stream().filter(Call::complete).toList(); }
    }

    Scan scan(String text, boolean finished);

    /** A fresh id for a call, as the format's vLLM parser makes them. */
    default String newCallId() { return CallIds.openAi(); }

    /** Whether special tokens must stay in the text for this parser to see its markers (vLLM's adjust_request). */
    default boolean needsSpecialTokens() { return true; }

    Map<String, Supplier<ToolCallParser>> PARSERS = Map.of(
            "hermes", HermesParser::new,
            "deepseek_v3", DeepSeekV3Parser::new,
            "llama3_json", Llama3JsonParser::new,
            "mistral", MistralParser::new);

    /**
     * {@code tool_choice: "required"}: the output is constrained to a JSON array of
     * {@code {"name": ..., "parameters": {...}}} (vLLM's schema), read here as calls.
     */
    static ToolCallParser forRequiredChoice() {
        return (text, finished) -> {
            JsonCalls.ArrayScan a = JsonCalls.array(text, 0, java.util.Set.of("parameters"));
            if (a.invalid() || (finished && a.end() < 0)) return new Scan(finished ? text : "", List.of());
            return new Scan("", a.calls());
        };
    }

    /** {@code tool_choice} naming a function: the whole output is its arguments (constrained to its parameters' schema). */
    static ToolCallParser forNamedFunction(String name) {
        return (text, finished) -> new Scan("", List.of(new Call(name, text, finished && JsonCalls.parses(text))));
    }

    /** The parser vLLM calls {@code name}, or null when pdserve has none by that name. */
    static ToolCallParser named(String name) {
        Supplier<ToolCallParser> p = PARSERS.get(name);
        return p == null ? null : p.get();
    }
}
