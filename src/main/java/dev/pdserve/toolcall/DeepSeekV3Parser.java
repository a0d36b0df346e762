package dev.pdserve.toolcall;

import java.util.ArrayList;
import java.util.List;

/**
 * vLLM's {@code deepseek_v3} format (DeepSeek-V3, R1): content, then
 * {@code <｜tool▁calls▁begin｜>} and per call
 * {@code <｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>},
 * then {@code <｜tool▁calls▁end｜>}.
 */
final class DeepSeekV3Parser implements ToolCallParser {
    static final String CALLS_BEGIN = "<｜tool▁calls▁begin｜>", CALLS_END = "<｜tool▁calls▁end｜>";
    static final String CALL_BEGIN = "<｜tool▁call▁begin｜>", SEP = "<｜tool▁sep｜>", CALL_END = "<｜tool▁call▁end｜>";
    static final String FENCE = "```json\n", CLOSE = "\n```";

    @Override
    public Scan scan(String text, boolean finished) {
        List<Call> calls = new ArrayList<>();
        int s = text.indexOf(CALLS_BEGIN);
        if (s < 0) return new Scan(finished ? text : JsonCalls.holdBack(text, CALLS_BEGIN), calls);
        StringBuilder content = new StringBuilder(text.substring(0, s));
        int i = s + CALLS_BEGIN.length();
        while (true) {
            i = JsonCalls.skipWs(text, i);
            String rest = text.substring(i);
            if (rest.startsWith(CALLS_END)) {
                content.append(text.substring(i + CALLS_END.length()));
                break;
            }
            if (!finished && (CALL_BEGIN.startsWith(rest) || CALLS_END.startsWith(rest))) break;
            if (!rest.startsWith(CALL_BEGIN)) {
                if (finished) content.append(rest);
                break;
            }
            int sep = text.indexOf(SEP, i);
            int nl = sep < 0 ? -1 : text.indexOf('\n', sep + SEP.length());
            if (nl < 0) {
                if (finished) content.append(rest);
                break;
            }
            String name = text.substring(sep + SEP.length(), nl);
            String afterName = text.substring(nl + 1);
            if (!afterName.startsWith(FENCE)) {
                if (!finished && FENCE.startsWith(afterName)) calls.add(new Call(name, "", false));
                else if (finished) content.append(rest);
                break;
            }
            int a = nl + 1 + FENCE.length();
            int close = text.indexOf(CLOSE, a);
            if (close < 0) {
                if (finished) content.append(rest);
                else calls.add(new Call(name, JsonCalls.holdBack(text.substring(a), CLOSE), false));
                break;
            }
            String args = text.substring(a, close);
            if (!JsonCalls.parses(args)) {
                if (finished) content.append(rest);
                break;
            }
            calls.add(new Call(name, args, true));
            int k = JsonCalls.skipWs(text, close + CLOSE.length());
            if (text.startsWith(CALL_END, k)) k += CALL_END.length();
            else if (!finished && CALL_END.startsWith(text.substring(k))) break;
            i = k;
        }
        return new Scan(content.toString(), calls);
    }
}
