package dev.pdserve.toolcall;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * vLLM's {@code hermes} format (Qwen2.5, Qwen3, Hermes): each call is
 * {@code <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>}; text around the calls is content.
 */
final class HermesParser implements ToolCallParser {
    static final String START = "<tool_call>", END = "</tool_call>";
    private static final Set<String> ARGS = Set.of("arguments", "parameters");

    @Override
    public Scan scan(String text, boolean finished) {
        StringBuilder content = new StringBuilder();
        List<Call> calls = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            int s = text.indexOf(START, i);
            if (s < 0) {
                String tail = text.substring(i);
                content.append(finished ? tail : JsonCalls.holdBack(tail, START));
                break;
            }
            content.append(text, i, s);
            JsonCalls.ObjectScan o = JsonCalls.object(text, s + START.length(), ARGS);
            if (!o.complete()) {
                if (finished) content.append(text, s, text.length());
                else if (!o.invalid()) calls.add(o.call());
                else {
                    // not a call: its block is content once it closes
                    int e = text.indexOf(END, s);
                    if (e < 0) break;
                    content.append(text, s, e + END.length());
                    i = e + END.length();
                    continue;
                }
                break;
            }
            calls.add(o.call());
            int k = JsonCalls.skipWs(text, o.end());
            if (text.startsWith(END, k)) {
                i = JsonCalls.skipWs(text, k + END.length());
            } else if (!finished && END.startsWith(text.substring(k))) {
                break;
            } else {
                i = k;
            }
        }
        return new Scan(content.toString(), calls);
    }
}
