package dev.pdserve.toolcall;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reading tool calls written as JSON, {@code {"name": ..., "arguments": {...}}}, from text that may
 * stop anywhere (a stream). Arguments are kept as the model wrote them: while unfinished, all the
 * text after their start lies inside the value, so it is a prefix of the final arguments. A call is
 * complete once its object closes and parses.
 */
final class JsonCalls {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int INCOMPLETE = -1, INVALID = -2;

    private JsonCalls() {}

    /** One call object: the call (partial while {@code end < 0}), {@code end} after its '}', or invalid. */
    record ObjectScan(ToolCallParser.Call call, int end, boolean invalid) {
        boolean complete() { return end >= 0; }
    }

    /** An array of call objects: the calls so far, {@code end} after its ']' when complete, or invalid. */
    record ArrayScan(List<ToolCallParser.Call> calls, int end, boolean invalid) {}

    static ObjectScan object(String t, int from, Set<String> argumentKeys) {
        int i = skipWs(t, from);
        if (i == t.length()) return partial(null, null);
        if (t.charAt(i) != '{') return invalid();
        int start = i++;
        String name = null, args = null;
        boolean first = true;
        while (true) {
            i = skipWs(t, i);
            if (i == t.length()) return partial(name, args);
            char c = t.charAt(i);
            if (c == '}') {
                if (name == null || !parses(t.substring(start, i + 1))) return invalid();
                return new ObjectScan(new ToolCallParser.Call(name, args == null ? "{}" : args, true), i + 1, false);
            }
            if (!first) {
                if (c != ',') return invalid();
                i = skipWs(t, i + 1);
                if (i == t.length()) return partial(name, args);
            }
            first = false;
            if (t.charAt(i) != '"') return invalid();
            int keyEnd = skipString(t, i);
            if (keyEnd < 0) return partial(name, args);
            String key = t.substring(i + 1, keyEnd - 1);
            i = skipWs(t, keyEnd);
            if (i == t.length()) return partial(name, args);
            if (t.charAt(i) != ':') return invalid();
            i = skipWs(t, i + 1);
            if (i == t.length()) return partial(name, args);
            int valueStart = i, end = skipValue(t, i);
            if (end == INVALID) return invalid();
            if (key.equals("name")) {
                if (t.charAt(i) != '"') return invalid();
                if (end == INCOMPLETE) return partial(null, args);
                name = string(t.substring(valueStart, end));
                if (name == null) return invalid();
            } else if (argumentKeys.contains(key)) {
                if (end == INCOMPLETE) return partial(name, t.substring(valueStart));
                args = t.substring(valueStart, end);
            } else if (end == INCOMPLETE) {
                return partial(name, args);
            }
            i = end;
        }
    }

    static ArrayScan array(String t, int from, Set<String> argumentKeys) {
        List<ToolCallParser.Call> calls = new ArrayList<>();
        int i = skipWs(t, from);
        if (i == t.length()) return new ArrayScan(calls, INCOMPLETE, false);
        if (t.charAt(i) != '[') return new ArrayScan(calls, INCOMPLETE, true);
        i++;
        while (true) {
            i = skipWs(t, i);
            if (i == t.length()) return new ArrayScan(calls, INCOMPLETE, false);
            if (t.charAt(i) == ']') return new ArrayScan(calls, i + 1, calls.isEmpty());
            if (!calls.isEmpty()) {
                if (t.charAt(i) != ',') return new ArrayScan(calls, INCOMPLETE, true);
                i++;
            }
            ObjectScan o = object(t, i, argumentKeys);
            if (o.invalid()) return new ArrayScan(calls, INCOMPLETE, true);
            calls.add(o.call());
            if (!o.complete()) return new ArrayScan(calls, INCOMPLETE, false);
            i = o.end();
        }
    }

    private static ObjectScan partial(String name, String args) {
        return new ObjectScan(new ToolCallParser.Call(name, args == null ? "" : args, false), INCOMPLETE, false);
    }

    private static ObjectScan invalid() { return new ObjectScan(null, INCOMPLETE, true); }

    static int skipWs(String t, int i) {
        while (i < t.length() && Character.isWhitespace(t.charAt(i))) i++;
        return i;
    }

    /** After a string starting at i (a '"'), or INCOMPLETE. */
    static int skipString(String t, int i) {
        for (int j = i + 1; j < t.length(); j++) {
            char c = t.charAt(j);
            if (c == '\\') j++;
            else if (c == '"') return j + 1;
        }
        return INCOMPLETE;
    }

    /** After the JSON value starting at i, INCOMPLETE when the text ends inside it, INVALID when it cannot be one (checked loosely; a parse checks it whole). */
    static int skipValue(String t, int i) {
        char c = t.charAt(i);
        if (c == '"') return skipString(t, i);
        if (c == '{' || c == '[') {
            int depth = 0;
            for (int j = i; j < t.length(); j++) {
                char d = t.charAt(j);
                if (d == '"') {
                    j = skipString(t, j);
                    if (j < 0) return INCOMPLETE;
                    j--;
                } else if (d == '{' || d == '[') {
                    depth++;
                } else if (d == '}' || d == ']') {
                    if (--depth == 0) return j + 1;
                }
            }
            return INCOMPLETE;
        }
        int j = i;
        while (j < t.length() && "+-.0123456789eEtruefalsn".indexOf(t.charAt(j)) >= 0) j++;
        if (j == i) return INVALID;
        return j == t.length() ? INCOMPLETE : j;
    }

    static boolean parses(String json) {
        try {
            JSON.readTree(json);
            return true;
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    private static String string(String json) {
        try {
            return JSON.readValue(json, String.class);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /** {@code text} without a tail that could be the start of {@code marker} (held back until the next text tells). */
    static String holdBack(String text, String marker) {
        for (int k = Math.min(marker.length() - 1, text.length()); k > 0; k--) {
            if (marker.startsWith(text.substring(text.length() - k))) return text.substring(0, text.length() - k);
        }
        return text;
    }
}
