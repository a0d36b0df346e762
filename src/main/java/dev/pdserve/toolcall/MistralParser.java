package dev.pdserve.toolcall;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * vLLM's {@code mistral} format: content, then {@code [TOOL_CALLS]} and either a JSON array of
 * {@code {"name": "f", "arguments": {...}}} (older tokenizers) or, from tokenizer v11,
 * {@code f[ARGS]{...}} per call, each after its own {@code [TOOL_CALLS]}. Ids are 9 letters and digits, as Mistral's.
 */
final class MistralParser implements ToolCallParser {
    static final String TOOL_CALLS = "[TOOL_CALLS]", ARGS_TOKEN = "[ARGS]";
    private static final Set<String> ARGS = Set.of("arguments", "parameters");

    @Override
    public String newCallId() { return CallIds.mistral(); }

    @Override
    public Scan scan(String text, boolean finished) {
        List<Call> calls = new ArrayList<>();
        int s = text.indexOf(TOOL_CALLS);
        if (s < 0) return new Scan(finished ? text : JsonCalls.holdBack(text, TOOL_CALLS), calls);
        String content = text.substring(0, s);
        int i = JsonCalls.skipWs(text, s + TOOL_CALLS.length());
        if (i == text.length()) return new Scan(content, calls);
        if (text.charAt(i) == '[') {
            JsonCalls.ArrayScan a = JsonCalls.array(text, i, ARGS);
            if (a.invalid() || (a.end() < 0 && finished)) return new Scan(finished ? text : content, List.of());
            calls.addAll(a.calls());
            String after = a.end() < 0 ? "" : text.substring(JsonCalls.skipWs(text, a.end()));
            return new Scan(content + after, calls);
        }
        while (true) {
            int a = text.indexOf(ARGS_TOKEN, i);
            if (a < 0) {
                if (finished) content += text.substring(i);
                return new Scan(content, calls);
            }
            String name = text.substring(i, a).trim();
            int v = JsonCalls.skipWs(text, a + ARGS_TOKEN.length());
            if (v == text.length()) {
                calls.add(new Call(name, "", false));
                if (finished) content += text.substring(i);
                return new Scan(content, calls);
            }
            int e = JsonCalls.skipValue(text, v);
            if (e == JsonCalls.INCOMPLETE) {
                if (finished) content += text.substring(i);
                else calls.add(new Call(name, text.substring(v), false));
                return new Scan(content, calls);
            }
            if (e == JsonCalls.INVALID || !JsonCalls.parses(text.substring(v, e))) {
                if (finished) content += text.substring(i);
                return new Scan(content, calls);
            }
            calls.add(new Call(name, text.substring(v, e), true));
            i = JsonCalls.skipWs(text, e);
            if (text.startsWith(TOOL_CALLS, i)) i = JsonCalls.skipWs(text, i + TOOL_CALLS.length());
            else if (!finished && TOOL_CALLS.startsWith(text.substring(i))) return new Scan(content, calls);
            if (i == text.length()) return new Scan(content, calls);
        }
    }
}
