package dev.pdserve.tokenizer.jinja;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Python's {@code "%s" % x} and {@code "{}".format(x)}, for the conversions templates use. */
final class Formatting {
    private static final Pattern PERCENT = Pattern.compile("%(\\((\\w+)\\))?([-+ 0#]*)(\\d+)?(\\.(\\d+))?([sdifrxXeEgGc%])");
    private static final Pattern FIELD = Pattern.compile("\\{\\{|}}|\\{([^{}:!]*)(?:!([rs]))?(?::([^{}]*))?}");
    private static final Pattern SPEC = Pattern.compile("([<>^]?)(\\d*)(?:\\.(\\d+))?([sdf]?)");

    private Formatting() {}

    static String percent(String format, Object args) {
        List<?> positional = args instanceof Tuple t ? t : Collections.singletonList(args);
        Map<?, ?> mapping = args instanceof Map<?, ?> m ? m : null;
        Matcher m = PERCENT.matcher(format);
        StringBuilder out = new StringBuilder();
        int next = 0;
        while (m.find()) {
            String conversion = m.group(7);
            String value;
            if (conversion.equals("%")) {
                value = "%";
            } else {
                Object arg;
                if (m.group(2) != null) {
                    if (mapping == null) throw TemplateException.type("format requires a mapping");
                    arg = mapping.get(m.group(2));
                } else {
                    if (next >= positional.size()) throw TemplateException.type("not enough arguments for format string");
                    arg = positional.get(next++);
                }
                value = convert(conversion, m.group(6), arg);
                value = pad(value, m.group(4), m.group(3).contains("-") ? "<" : ">",
                        m.group(3).contains("0") && !conversion.equals("s") ? '0' : ' ');
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        if (mapping == null && next < positional.size()) {
            throw TemplateException.type("not all arguments converted during string formatting");
        }
        return out.toString();
    }

    private static String convert(String conversion, String precision, Object arg) {
        return switch (conversion) {
            case "s" -> Py.str(arg);
            case "r" -> Py.repr(arg);
            case "d", "i" -> {
                if (!Py.isNumber(arg)) throw TemplateException.type("%d format: a real number is required, not " + Py.typeName(arg));
                yield Long.toString(arg instanceof Double d ? (long) (double) d : Py.toLong(arg));
            }
            case "x" -> Long.toHexString(Py.toLong(arg));
            case "X" -> Long.toHexString(Py.toLong(arg)).toUpperCase();
            case "c" -> arg instanceof String s ? s : Character.toString((int) Py.toLong(arg));
            case "e", "E" -> String.format("%." + (precision == null ? 6 : Integer.parseInt(precision)) + conversion, Py.toDouble(arg));
            case "g", "G" -> Py.str(Py.toDouble(arg));
            default -> String.format("%." + (precision == null ? 6 : Integer.parseInt(precision)) + "f", Py.toDouble(arg));
        };
    }

    private static String pad(String value, String width, String align, char fill) {
        if (width == null || width.isEmpty()) return value;
        int w = Integer.parseInt(width), n = value.codePointCount(0, value.length());
        if (n >= w) return value;
        String padding = String.valueOf(fill).repeat(w - n);
        return switch (align) {
            case "<" -> value + padding;
            case "^" -> padding.substring(0, (w - n) / 2) + value + padding.substring((w - n) / 2);
            default -> padding + value;
        };
    }

    /** {@code str.format}: {@code {}}, {@code {0}}, {@code {name}}, with !r and simple specs (width, .Nf, d). */
    static String format(String format, List<Object> args, Map<String, Object> kwargs) {
        Matcher m = FIELD.matcher(format);
        StringBuilder out = new StringBuilder();
        int auto = 0;
        while (m.find()) {
            String value;
            if (m.group().equals("{{")) value = "{";
            else if (m.group().equals("}}")) value = "}";
            else {
                String field = m.group(1);
                Object arg;
                if (field.isEmpty()) arg = at(args, auto++);
                else if (field.chars().allMatch(Character::isDigit)) arg = at(args, Integer.parseInt(field));
                else if (kwargs.containsKey(field)) arg = kwargs.get(field);
                else throw TemplateException.render("KeyError: " + Py.repr(field));
                value = "r".equals(m.group(2)) ? Py.repr(arg) : spec(arg, m.group(3));
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static Object at(List<Object> args, int i) {
        if (i >= args.size()) throw TemplateException.render("IndexError: Replacement index " + i + " out of range for positional args tuple");
        return args.get(i);
    }

    private static String spec(Object arg, String spec) {
        if (spec == null || spec.isEmpty()) return Py.str(arg);
        Matcher s = SPEC.matcher(spec);
        if (!s.matches()) throw TemplateException.render("ValueError: unsupported format spec '" + spec + "'");
        String value = s.group(3) != null || s.group(4).equals("f")
                ? String.format("%." + (s.group(3) == null ? 6 : Integer.parseInt(s.group(3))) + "f", Py.toDouble(arg))
                : Py.str(arg);
        String align = s.group(1).isEmpty() ? (Py.isNumber(arg) ? ">" : "<") : s.group(1);
        return pad(value, s.group(2), align, ' ');
    }
}
