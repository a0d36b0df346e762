package dev.pdserve.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} byte for byte, as transformers' {@code tojson} filter calls it:
 * {@code ensure_ascii=False} unless asked, {@code ", "} and {@code ": "} separators (",", ": " with
 * an indent), optional {@code indent} (a number or a string) and {@code sort_keys}.
 */
final class Json {
    private final String indent;
    private final String itemSeparator;
    private final String keySeparator;
    private final boolean sortKeys;
    private final boolean ensureAscii;
    private final StringBuilder out = new StringBuilder();

    private Json(String indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        this.indent = indent;
        this.itemSeparator = itemSeparator != null ? itemSeparator : indent != null ? "," : ", ";
        this.keySeparator = keySeparator != null ? keySeparator : ": ";
        this.sortKeys = sortKeys;
        this.ensureAscii = ensureAscii;
    }

    static String dumps(Object value, String indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        Json json = new Json(indent, itemSeparator, keySeparator, sortKeys, ensureAscii);
        json.write(value, 0);
        return json.out.toString();
    }

    private void write(Object v, int depth) {
        switch (v) {
            case null -> out.append("null");
            case Boolean b -> out.append(b ? "true" : "false");
            case Double d -> out.append(number(d));
            case Long n -> out.append(n);
            case String s -> string(s);
            case Map<?, ?> m -> object(m, depth);
            case List<?> l -> array(l, depth);
            default -> throw TemplateException.type("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
    }

    private static String number(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        return Py.floatRepr(d);
    }

    private void object(Map<?, ?> map, int depth) {
        if (map.isEmpty()) { out.append("{}"); return; }
        List<Map.Entry<String, Object>> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : map.entrySet()) entries.add(new java.util.AbstractMap.SimpleEntry<>(key(e.getKey()), (Object) e.getValue()));
        if (sortKeys) entries.sort(Map.Entry.comparingByKey());
        out.append('{');
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) out.append(itemSeparator);
            newline(depth + 1);
            string(entries.get(i).getKey());
            out.append(keySeparator);
            write(entries.get(i).getValue(), depth + 1);
        }
        newline(depth);
        out.append('}');
    }

    private void array(List<?> items, int depth) {
        if (items.isEmpty()) { out.append("[]"); return; }
        out.append('[');
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) out.append(itemSeparator);
            newline(depth + 1);
            write(items.get(i), depth + 1);
        }
        newline(depth);
        out.append(']');
    }

    private void newline(int depth) {
        if (indent != null) out.append('\n').append(indent.repeat(depth));
    }

    /** Python turns non-string keys into their JSON text: 1 -> "1", True -> "true", None -> "null". */
    private static String key(Object k) {
        return switch (k) {
            case null -> "null";
            case Boolean b -> b ? "true" : "false";
            case Double d -> number(d);
            case Long l -> l.toString();
            case String s -> s;
            default -> throw TemplateException.type("keys must be str, int, float, bool or None, not " + Py.typeName(k));
        };
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }
}
