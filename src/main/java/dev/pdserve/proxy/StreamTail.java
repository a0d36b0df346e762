package dev.pdserve.proxy;

import java.nio.charset.StandardCharsets;

/**
 * The last bytes of a relayed SSE stream, kept in a fixed buffer (no allocation per chunk), to tell a
 * stream that ended with {@code data: [DONE]} from one that was cut short.
 */
final class StreamTail {
    private final byte[] last = new byte[32];
    private int len;

    void add(byte[] b, int off, int n) {
        if (n >= last.length) {
            System.arraycopy(b, off + n - last.length, last, 0, last.length);
            len = last.length;
            return;
        }
        int keep = Math.min(len, last.length - n);
        System.arraycopy(last, len - keep, last, 0, keep);
        System.arraycopy(b, off, last, keep, n);
        len = keep + n;
    }

    /** The stream's last event was {@code data: [DONE]}. */
    boolean endsWithDone() {
        String s = new String(last, 0, len, StandardCharsets.US_ASCII).stripTrailing();
        if (!s.endsWith("[DONE]")) return false;
        String before = s.substring(0, s.length() - "[DONE]".length()).stripTrailing();
        return before.endsWith("data:");
    }

    /** Nothing was sent, or the last event was terminated by a blank line. */
    boolean atEventBoundary() {
        if (len == 0) return true;
        return len >= 2 && last[len - 1] == '\n' && (last[len - 2] == '\n' || (len >= 3 && last[len - 2] == '\r' && last[len - 3] == '\n'));
    }
}
