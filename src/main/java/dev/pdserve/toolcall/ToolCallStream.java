package dev.pdserve.toolcall;

import java.util.ArrayList;
import java.util.List;

/**
 * One streamed choice's tool calls as OpenAI streams them: fed the whole text so far after each
 * engine output, it returns what is new, content and per call a first delta with its id and name
 * (and the arguments known so far), then pieces of arguments. Ids given here are those of the
 * finished answer too ({@link #ids()}).
 */
public final class ToolCallStream {
    /** A piece of one call: {@code id} and {@code name} only in its first piece. */
    public record CallDelta(int index, String id, String name, String arguments) {}

    public record Delta(String content, List<CallDelta> calls) {
        public boolean isEmpty() { return content.isEmpty() && calls.isEmpty(); }
    }

    private final ToolCallParser parser;
    private final List<String> ids = new ArrayList<>();
    private final List<Integer> argsSent = new ArrayList<>();
    private int contentSent;
    private ToolCallParser.Scan last = new ToolCallParser.Scan("", List.of());

    public ToolCallStream(ToolCallParser parser) { this.parser = parser; }

    public Delta update(String text, boolean finished) {
        last = parser.scan(text, finished);
        String content = "";
        if (last.content().length() > contentSent) {
            content = last.content().substring(contentSent);
            contentSent = last.content().length();
        }
        List<CallDelta> deltas = new ArrayList<>();
        for (int i = 0; i < last.calls().size(); i++) {
            ToolCallParser.Call c = last.calls().get(i);
            if (c.name() == null || i > ids.size()) break;
            if (i == ids.size()) {
                ids.add(parser.newCallId());
                argsSent.add(c.arguments().length());
                deltas.add(new CallDelta(i, ids.get(i), c.name(), c.arguments()));
            } else if (c.arguments().length() > argsSent.get(i)) {
                deltas.add(new CallDelta(i, null, null, c.arguments().substring(argsSent.get(i))));
                argsSent.set(i, c.arguments().length());
            }
        }
        return new Delta(content, deltas);
    }

    /** The ids of the calls streamed so far, by index. */
    public List<String> ids() { return List.copyOf(ids); }

    /** The last scan (after {@code update(text, true)}: the finished text's content and calls). */
    public ToolCallParser.Scan scan() { return last; }
}
