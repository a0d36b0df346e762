package dev.pdserve.proxy;

import java.nio.charset.StandardCharsets;

/**
 * A client's {@code X-Request-Id} as the proxy forwards and echoes it: visible ASCII stays, anything
 * else (non-ASCII, controls, spaces, {@code %}) is percent-encoded byte by byte, so an id that the
 * instances accept directly never makes the proxy fail (an HTTP client refuses such header values).
 */
final class RequestIds {
    private RequestIds() {}

    static String sanitise(String id) {
        StringBuilder out = null;
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            boolean plain = c > 0x20 && c < 0x7f && c != '%';
            if (plain && out == null) continue;
            if (out == null) out = new StringBuilder(id.length() + 16).append(id, 0, i);
            if (plain) {
                out.append(c);
            } else if (c < 0x100) { // a header byte (the server reads headers as ISO-8859-1)
                out.append('%').append(hex(c >> 4)).append(hex(c & 15));
            } else {
                int end = Character.isHighSurrogate(c) && i + 1 < id.length() ? i + 2 : i + 1;
                for (byte b : id.substring(i, end).getBytes(StandardCharsets.UTF_8)) out.append('%').append(hex((b >> 4) & 15)).append(hex(b & 15));
                i = end - 1;
            }
        }
        return out == null ? id : out.toString();
    }

    private static char hex(int v) { return "0123456789ABCDEF".charAt(v); }
}
