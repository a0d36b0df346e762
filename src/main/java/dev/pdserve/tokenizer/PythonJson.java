package dev.pdserve.tokenizer;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} byte for byte, as the {@code tojson} filter of Hugging Face chat templates
 * calls it ({@code ensure_ascii=False} by default, {@code ", "} and {@code ": "} separators, optional
 * {@code indent} and {@code sort_keys}), so tool schemas render exactly as in transformers.
 */
final class PythonJson {
    private final Integer indent;
    private final String itemSeparator;
    private final String keySeparator;
    private final boolean sortKeys;
    private final boolean ensureAscii;
    private final StringBuilder out = new StringBuilder();

    private PythonJson(Integer indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        this.indent = indent;
        this.itemSeparator = itemSeparator != null ? itemSeparator : indent != null ? "," : ", ";
        this.keySeparator = keySeparator != null ? keySeparator : ": ";
        this.sortKeys = sortKeys;
        this.ensureAscii = ensureAscii;
    }

    static String dumps(Object value) { return dumps(value, null, null, null, false, false); }

    static String dumps(Object value, Integer indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        PythonJson json = new PythonJson(indent, itemSeparator, keySeparator, sortKeys, ensureAscii);
        json.write(value, 0);
        return json.out.toString();
    }

    private void write(Object v, int depth) {
        switch (v) {
            case null -> out.append("null");
            case Boolean b -> out.append(b ? "true" : "false");
            case Double d -> out.append(floatRepr(d));
            case Float f -> out.append(floatRepr(f.doubleValue()));
            case Number n -> out.append(n);
            case CharSequence s -> string(s.toString());
            case Map<?, ?> m -> object(m, depth);
            case Iterable<?> it -> array(it, depth);
            case Object[] arr -> array(List.of(arr), depth);
            default -> string(v.toString());
        }
    }

    private void object(Map<?, ?> map, int depth) {
        if (map.isEmpty()) { out.append("{}"); return; }
        List<Map.Entry<String, Object>> entries = new ArrayList<>();
        for (Map.Entry<?, ?> e : map.entrySet()) entries.add(Map.entry(key(e.getKey()), e.getValue() == null ? NULL : e.getValue()));
        if (sortKeys) entries.sort(Map.Entry.comparingByKey());
        out.append('{');
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) out.append(itemSeparator);
            newline(depth + 1);
            string(entries.get(i).getKey());
            out.append(keySeparator);
            Object value = entries.get(i).getValue();
            write(value == NULL ? null : value, depth + 1);
        }
        newline(depth);
        out.append('}');
    }

    private static final Object NULL = new Object(); // Map.entry refuses null values

    private void array(Iterable<?> items, int depth) {
        out.append('[');
        boolean first = true;
        for (Object item : items) {
            if (!first) out.append(itemSeparator);
            newline(depth + 1);
            write(item, depth + 1);
            first = false;
        }
        if (!first) newline(depth);
        out.append(']');
    }

    private void newline(int depth) {
        if (indent == null) return;
        out.append('\n').append(" ".repeat(indent * depth));
    }

    /** Python turns non-string keys into their JSON text: 1 -> "1", True -> "true", None -> "null". */
    private static String key(Object k) {
        return switch (k) {
            case null -> "null";
            case Boolean b -> b ? "true" : "false";
            case Double d -> floatRepr(d);
            default -> k.toString();
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

    /** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = exact.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - exact.scale(); // d = 0.digits... * 10^(exponent+1)
        String sign = d < 0 ? "-" : "";
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        String plain = exact.abs().toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
