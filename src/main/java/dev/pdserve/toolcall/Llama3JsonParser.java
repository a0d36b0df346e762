package dev.pdserve.toolcall;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * vLLM's {@code llama3_json} format (Llama 3.1-3.3 JSON tool calling): the output, after an optional
 * {@code <|python_tag|>}, is one or more {@code {"name": "f", "parameters": {...}}} separated by
 * {@code ;}. An output that does not start with '{' is all content.
 */
final class Llama3JsonParser implements ToolCallParser {
    static final String PYTHON_TAG = "<|python_tag|>";
    private static final Set<String> ARGS = Set.of("parameters", "arguments");

    @Override
    public Scan scan(String text, boolean finished) {
        List<Call> calls = new ArrayList<>();
        int i = JsonCalls.skipWs(text, 0);
        String rest = text.substring(i);
        if (!finished && (rest.isEmpty() || (PYTHON_TAG.startsWith(rest)))) return new Scan("", calls);
        if (text.startsWith(PYTHON_TAG, i)) i = JsonCalls.skipWs(text, i + PYTHON_TAG.length());
        if (i < text.length() && text.charAt(i) != '{' || i == text.length()) return new Scan(text, calls);
        while (true) {
            JsonCalls.ObjectScan o = JsonCalls.object(text, i, ARGS);
            if (o.invalid() || (!o.complete() && finished)) return new Scan(finished ? text.substring(i) : "", calls);
            calls.add(o.call());
            if (!o.complete()) return new Scan("", calls);
            i = JsonCalls.skipWs(text, o.end());
            if (i < text.length() && text.charAt(i) == ';') {
                i = JsonCalls.skipWs(text, i + 1);
                if (i == text.length()) return new Scan("", calls);
                continue;
            }
            return new Scan(i == text.length() ? "" : finished ? text.substring(i) : "", calls);
        }
    }
}
