package dev.pdserve.engine;

import java.util.List;

/**
 * A request's output text with vLLM's stop-string rules: the text is cut where a stop string
 * starts (or after it, with include_stop_str_in_output), and text that could still turn out to be
 * the start of a stop string is held back from the stream until that is decided.
 */
final class OutputText {
    private final TokenDecoder decoder;
    private final List<String> stops;
    private final boolean includeStop;
    private final int maxStopLen;
    private final StringBuilder text = new StringBuilder();
    private int sent;
    private String matchedStop;

    OutputText(TokenDecoder decoder, List<String> stops, boolean includeStop) {
        this.decoder = decoder;
        this.stops = stops == null ? List.of() : stops;
        this.includeStop = includeStop;
        int max = 0;
        for (String s : this.stops) max = Math.max(max, s.length());
        this.maxStopLen = max;
    }

    /** Adds a generated token's text; checks stop strings when {@code checkStops}. Returns true when a stop string ended the text. */
    boolean add(int tokenId, boolean checkStops) {
        if (matchedStop != null) return true;
        String delta = decoder.add(tokenId);
        if (delta.isEmpty()) return false;
        int before = text.length();
        text.append(delta);
        if (!checkStops || maxStopLen == 0) return false;
        int from = Math.max(0, before - maxStopLen + 1); // a new match ends in the new text
        int best = -1;
        String found = null;
        for (String s : stops) {
            int at = text.indexOf(s, from);
            if (at >= 0 && (best < 0 || at < best)) { best = at; found = s; }
        }
        if (found == null) return false;
        text.setLength(includeStop ? best + found.length() : best);
        matchedStop = found;
        return true;
    }

    /** The stop string that ended the text, or null. */
    String matchedStop() { return matchedStop; }

    String fullText() { return text.toString(); }

    /** Text not sent yet; all of it when {@code finished}, else without a possible stop-string start. */
    String takeDelta(boolean finished) {
        int end = text.length();
        if (!finished && matchedStop == null && !includeStop) end -= possibleStopStart(end);
        if (end > sent && end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) end--;
        if (end <= sent) return "";
        String d = text.substring(sent, end);
        sent = end;
        return d;
    }

    /** Length of the longest tail of the unsent text that is a proper prefix of a stop string. */
    private int possibleStopStart(int end) {
        int best = 0;
        for (String s : stops) {
            for (int len = Math.min(s.length() - 1, end - sent); len > best; len--) {
                if (endsWith(end, s, len)) { best = len; break; }
            }
        }
        return best;
    }

    private boolean endsWith(int end, String s, int len) {
        for (int i = 0; i < len; i++) if (text.charAt(end - len + i) != s.charAt(i)) return false;
        return true;
    }
}
