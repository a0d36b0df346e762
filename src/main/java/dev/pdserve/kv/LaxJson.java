package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One field of vLLM's config JSON ({@code --kv-transfer-config}, {@code --additional-config}) read as
 * pydantic's lax mode reads it, since that is what vLLM does: {@code "20001"} is the integer 20001,
 * {@code "true"}, {@code "1"}, {@code "yes"}, {@code "on"} are true, {@code 1.0} is the integer 1, a
 * number is not a string. A value pydantic refuses is refused here, with a message naming the field.
 */
public final class LaxJson {
    /** pydantic's strings for true and false, compared in lower case. */
    private static final Set<String> TRUE = Set.of("1", "on", "t", "true", "y", "yes");
    private static final Set<String> FALSE = Set.of("0", "off", "f", "false", "n", "no");
    /** An integer as a string: sign, digits with single underscores between them, optional ".000". */
    private static final Pattern INT = Pattern.compile("[+-]?\\d+(_\\d+)*(\\.0*)?");

    private LaxJson() {}

    /** An integer: a JSON integer, a float with no fraction, a bool (0/1), or a string of one. */
    public static long integer(JsonNode v, String field) {
        if (v.isIntegralNumber()) {
            if (!v.canConvertToLong()) throw bad(field, "must be an integer that fits in 64 bits", v);
            return v.asLong();
        }
        if (v.isNumber()) {
            double d = v.asDouble();
            if (Double.isFinite(d) && d == Math.rint(d) && Math.abs(d) < 0x1p63) return (long) d;
            throw bad(field, "must be an integer (got a number with a fractional part)", v);
        }
        if (v.isBoolean()) return v.asBoolean() ? 1 : 0;
        if (v.isTextual()) {
            String s = v.asText().strip();
            if (INT.matcher(s).matches()) {
                try {
                    return new BigDecimal(s.replace("_", "")).longValueExact();
                } catch (ArithmeticException e) {
                    throw bad(field, "must be an integer that fits in 64 bits", v);
                }
            }
        }
        throw bad(field, "must be an integer", v);
    }

    /** An integer in {@code [min, max]}. */
    public static int integer(JsonNode v, String field, int min, int max) {
        long i = integer(v, field);
        if (i < min || i > max) throw new IllegalArgumentException("field '" + field + "' must be in [" + min + ", " + max + "], got " + i);
        return (int) i;
    }

    /** A number: a JSON number, a bool, or a string of a float literal (as Python's float() reads it). */
    public static double number(JsonNode v, String field) {
        if (v.isNumber()) return v.asDouble();
        if (v.isBoolean()) return v.asBoolean() ? 1 : 0;
        if (v.isTextual()) {
            String s = v.asText().strip().replace("_", "");
            String lower = s.toLowerCase(Locale.ROOT);
            switch (lower.startsWith("+") || lower.startsWith("-") ? lower.substring(1) : lower) {
                case "inf", "infinity" -> { return lower.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY; }
                case "nan" -> { return Double.NaN; }
                default -> { }
            }
            if (s.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) return Double.parseDouble(s);
        }
        throw bad(field, "must be a number", v);
    }

    /** A bool: a JSON bool, 0 or 1, or one of pydantic's strings (true/false, 1/0, yes/no, on/off, t/f, y/n). */
    public static boolean bool(JsonNode v, String field) {
        if (v.isBoolean()) return v.asBoolean();
        if (v.isNumber()) {
            double d = v.asDouble();
            if (d == 1) return true;
            if (d == 0) return false;
        }
        if (v.isTextual()) {
            String s = v.asText().toLowerCase(Locale.ROOT);
            if (TRUE.contains(s)) return true;
            if (FALSE.contains(s)) return false;
        }
        throw bad(field, "must be a boolean (true/false, 1/0, yes/no, on/off)", v);
    }

    /** A string: only a JSON string (pydantic does not turn numbers into strings). */
    public static String string(JsonNode v, String field) {
        if (v.isTextual()) return v.asText();
        throw bad(field, "must be a string", v);
    }

    private static IllegalArgumentException bad(String field, String what, JsonNode got) {
        String shown = got.toString();
        if (shown.length() > 60) shown = shown.substring(0, 60) + "...";
        return new IllegalArgumentException("field '" + field + "' " + what + ", got " + shown);
    }
}
