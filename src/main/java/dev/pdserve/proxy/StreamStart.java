package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The start of a decode instance's SSE stream, read before anything goes to the client: up to its first
 * event that is not just the chat role (a token, an error, or {@code [DONE]}). A decode instance answers
 * 200 before its KV pull ends, so a failed pull shows only here, as an error event; until the first
 * token the request can still be retried elsewhere.
 */
final class StreamStart {
    /** Past this much without a token the stream is relayed anyway (a role chunk is far smaller). */
    static final int MAX_HELD = 64 * 1024;

    private byte[] buf = new byte[16 * 1024];
    private int len;
    private boolean complete;
    private JsonNode error;

    private StreamStart() {}

    /** Reads until the first token or error event, the end of the stream, or {@link #MAX_HELD} bytes. */
    static StreamStart read(InputStream in) throws IOException {
        StreamStart s = new StreamStart();
        int scanned = 0;
        while (s.len < MAX_HELD) {
            if (s.len == s.buf.length) s.buf = Arrays.copyOf(s.buf, s.buf.length * 2);
            int n = in.read(s.buf, s.len, s.buf.length - s.len);
            if (n < 0) return s;
            s.len += n;
            int end;
            while ((end = eventEnd(s.buf, scanned, s.len)) >= 0) {
                String event = new String(s.buf, scanned, end - scanned, StandardCharsets.UTF_8);
                scanned = end;
                if (s.decides(event)) return s;
            }
        }
        s.complete = true;
        return s;
    }

    /** Whether this event settles it: anything but a chat role chunk or an empty/comment event. */
    private boolean decides(String event) {
        StringBuilder data = new StringBuilder();
        for (String line : event.split("\r?\n")) if (line.startsWith("data:")) data.append(line.substring(5).strip());
        if (data.isEmpty()) return false;
        complete = true;
        if (data.toString().equals("[DONE]")) return true;
        try {
            JsonNode n = ProxyJson.MAPPER.readTree(data.toString());
            if (n.has("error")) {
                error = n.get("error");
                return true;
            }
            for (JsonNode c : n.path("choices")) {
                JsonNode delta = c.path("delta");
                boolean roleOnly = delta.isObject() && delta.path("content").asText("").isEmpty() && !delta.has("tool_calls")
                        && !delta.has("reasoning_content") && !c.hasNonNull("finish_reason") && !c.hasNonNull("logprobs");
                if (!roleOnly) return true;
            }
            return !n.path("choices").isArray() || n.path("choices").isEmpty();
        } catch (IOException e) {
            return true; // not ours to judge: relay it
        }
    }

    /** The end (exclusive) of the next complete event from {@code from}: after its blank line; -1 if none yet. */
    private static int eventEnd(byte[] b, int from, int to) {
        for (int i = from; i + 1 < to; i++) {
            if (b[i] == '\n' && b[i + 1] == '\n') return i + 2;
            if (b[i] == '\n' && b[i + 1] == '\r' && i + 2 < to && b[i + 2] == '\n') return i + 3;
        }
        return -1;
    }

    /** The bytes read so far, to relay first; {@link #length()} of them are valid. */
    byte[] bytes() { return buf; }

    int length() { return len; }

    /** A settling event (or {@link #MAX_HELD} bytes) was read; false when the stream ended before one. */
    boolean complete() { return complete; }

    /** The {@code error} object of a stream whose first event is an error; null otherwise. */
    JsonNode error() { return error; }
}
