package dev.pdserve.tokenizer.jinja;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/** jinja2's built-in filters that chat templates use, and transformers' {@code tojson}. */
final class Filters {
    private static final Pattern WORD_BEGINNING = Pattern.compile("(?<=[-\\s({\\[<])(?=[^-\\s({\\[<])|^");

    private static final java.util.Set<String> NAMES = java.util.Set.of("length", "count", "string", "safe", "trim", "upper",
            "lower", "capitalize", "title", "replace", "default", "d", "first", "last", "list", "reverse", "join", "tojson",
            "items", "int", "float", "abs", "round", "indent", "center", "wordcount", "format", "e", "escape", "attr", "sum",
            "min", "max", "sort", "unique", "dictsort", "map", "select", "reject", "selectattr", "rejectattr");

    private Filters() {}

    static boolean exists(String name) { return NAMES.contains(name); }

    /** Arguments of one filter call, by position or by name, with jinja2's parameter names. */
    record Call(Object value, List<Object> args, Map<String, Object> kwargs) {
        Object get(int i, String name, Object absent) {
            if (i < args.size()) return args.get(i);
            return kwargs.containsKey(name) ? kwargs.get(name) : absent;
        }

        boolean flag(int i, String name) { return Py.truthy(get(i, name, false)); }
    }

    static Object apply(String name, Call c) {
        Object v = c.value();
        return switch (name) {
            case "length", "count" -> Py.length(v);
            case "string" -> Py.str(v);
            case "safe" -> v;
            case "trim" -> StringMethods.strip(Py.str(v), (String) c.get(0, "chars", null), true, true);
            case "upper" -> Py.str(v).toUpperCase(Locale.ROOT);
            case "lower" -> Py.str(v).toLowerCase(Locale.ROOT);
            case "capitalize" -> StringMethods.call(Py.str(v), "capitalize", List.of(), Map.of());
            case "title" -> title(Py.str(v));
            case "replace" -> {
                Object count = c.get(2, "count", null);
                yield StringMethods.replace(Py.str(v), Py.str(c.get(0, "old", "")), Py.str(c.get(1, "new", "")),
                        count == null ? -1 : (int) Py.toLong(count));
            }
            case "default", "d" -> v instanceof Undefined || (c.flag(1, "boolean") && !Py.truthy(v)) ? c.get(0, "default_value", "") : v;
            case "first" -> {
                List<Object> items = Py.iterate(v);
                yield items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.getFirst();
            }
            case "last" -> {
                List<Object> items = Py.iterate(v);
                yield items.isEmpty() ? new Undefined("No last item, sequence was empty.") : items.getLast();
            }
            case "list" -> Py.iterate(v);
            case "reverse" -> v instanceof String s ? new StringBuilder(s).reverse().toString() : Py.iterate(v).reversed();
            case "join" -> join(c);
            case "tojson" -> tojson(c);
            case "items" -> {
                if (v instanceof Undefined) yield new ArrayList<>();
                if (!(v instanceof Map<?, ?> m)) throw TemplateException.type("Can only get item pairs from a mapping.");
                List<Object> pairs = new ArrayList<>();
                m.forEach((k, x) -> pairs.add(Tuple.of(k, x)));
                yield pairs;
            }
            case "int" -> toInt(v, c.get(0, "default", 0L));
            case "float" -> toFloat(v, c.get(0, "default", 0.0));
            case "abs" -> v instanceof Double d ? (Object) Math.abs(d) : (Object) Math.abs(Py.toLong(v));
            case "round" -> round(v, (int) Py.toLong(c.get(0, "precision", 0L)), Py.str(c.get(1, "method", "common")));
            case "indent" -> indent(Py.str(v), c.get(0, "width", 4L), c.flag(1, "first"), c.flag(2, "blank"));
            case "center" -> StringMethods.call(Py.str(v), "center", List.of(c.get(0, "width", 80L)), Map.of());
            case "wordcount" -> (long) StringMethods.split(Py.str(v), null, -1).size();
            case "format" -> Formatting.percent(Py.str(v), c.kwargs().isEmpty() ? new Tuple(c.args()) : c.kwargs());
            case "e", "escape" -> Py.str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("\"", "&#34;").replace("'", "&#39;");
            case "attr" -> Methods.getattr(v, Py.str(c.get(0, "name", "")));
            case "sum" -> sum(c);
            case "min", "max" -> minMax(c, name.equals("max"));
            case "sort" -> sort(c);
            case "unique" -> unique(c);
            case "dictsort" -> dictsort(c);
            case "map", "select", "reject", "selectattr", "rejectattr" -> Sequences.apply(name, c);
            default -> throw TemplateException.render("TemplateRuntimeError: No filter named '" + name + "'.");
        };
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder();
        for (String word : WORD_BEGINNING.split(s)) {
            if (word.isEmpty()) continue;
            int first = word.offsetByCodePoints(0, 1);
            out.append(word.substring(0, first).toUpperCase(Locale.ROOT)).append(word.substring(first).toLowerCase(Locale.ROOT));
        }
        return out.toString();
    }

    private static String join(Call c) {
        Object attribute = c.get(1, "attribute", null);
        List<String> parts = new ArrayList<>();
        for (Object x : Py.iterate(c.value())) parts.add(Py.str(attribute == null ? x : Sequences.attribute(x, attribute)));
        return String.join(Py.str(c.get(0, "d", "")), parts);
    }

    private static String tojson(Call c) {
        Object indent = c.get(1, "indent", null);
        Object separators = c.get(2, "separators", null);
        String itemSep = null, keySep = null;
        if (separators instanceof List<?> seps && seps.size() == 2) {
            itemSep = Py.str(seps.get(0));
            keySep = Py.str(seps.get(1));
        }
        String indentText = indent == null ? null : indent instanceof String s ? s : " ".repeat((int) Py.toLong(indent));
        return Json.dumps(c.value(), indentText, itemSep, keySep, c.flag(3, "sort_keys"), c.flag(0, "ensure_ascii"));
    }

    private static Object toInt(Object v, Object otherwise) {
        if (v instanceof Long || v instanceof Boolean) return Py.toLong(v);
        if (v instanceof Double d) return (long) (double) d;
        if (v instanceof String s) {
            String t = s.strip().replace("_", "");
            try { return Long.parseLong(t); } catch (NumberFormatException e) { /* a float text, or not a number */ }
            try { return (long) Double.parseDouble(t); } catch (NumberFormatException e) { return otherwise; }
        }
        return otherwise;
    }

    private static Object toFloat(Object v, Object otherwise) {
        if (Py.isNumber(v)) return Py.toDouble(v);
        if (v instanceof String s) {
            try { return Double.parseDouble(s.strip()); } catch (NumberFormatException e) { return otherwise; }
        }
        return otherwise;
    }

    private static Object round(Object v, int precision, String method) {
        double x = Py.toDouble(v), scale = Math.pow(10, precision);
        double r = switch (method) {
            case "ceil" -> Math.ceil(x * scale) / scale;
            case "floor" -> Math.floor(x * scale) / scale;
            default -> new java.math.BigDecimal(x).setScale(precision, java.math.RoundingMode.HALF_EVEN).doubleValue();
        };
        return v instanceof Double ? (Object) r : (Object) (long) r;
    }

    /** jinja2's indent: every line but the first (unless first=True), blank lines only with blank=True. */
    private static String indent(String s, Object width, boolean first, boolean blank) {
        String pad = width instanceof String w ? w : " ".repeat((int) Py.toLong(width));
        List<Object> lines = StringMethods.splitlines(s + "\n");
        StringBuilder out = new StringBuilder((String) lines.getFirst());
        for (Object line : lines.subList(1, lines.size())) {
            out.append('\n').append(blank || !((String) line).isEmpty() ? pad : "").append(line);
        }
        return first ? pad + out : out.toString();
    }

    private static Object sum(Call c) {
        Object total = c.get(1, "start", 0L);
        Object attribute = c.get(0, "attribute", null);
        for (Object x : Py.iterate(c.value())) total = Operators.binary("+", total, attribute == null ? x : Sequences.attribute(x, attribute));
        return total;
    }

    private static Object minMax(Call c, boolean max) {
        List<Object> items = sorted(Py.iterate(c.value()), c.flag(0, "case_sensitive"), c.get(1, "attribute", null));
        if (items.isEmpty()) return new Undefined("No aggregated item, sequence was empty.");
        return max ? items.getLast() : items.getFirst();
    }

    private static List<Object> sort(Call c) {
        List<Object> items = sorted(Py.iterate(c.value()), c.flag(1, "case_sensitive"), c.get(2, "attribute", null));
        return c.flag(0, "reverse") ? items.reversed() : items;
    }

    static List<Object> sorted(List<Object> items, boolean caseSensitive, Object attribute) {
        List<Object> out = new ArrayList<>(items);
        Comparator<Object> order = (a, b) -> Py.compare(sortKey(a, caseSensitive, attribute), sortKey(b, caseSensitive, attribute), "<");
        out.sort(order);
        return out;
    }

    private static Object sortKey(Object x, boolean caseSensitive, Object attribute) {
        Object key = attribute == null ? x : Sequences.attribute(x, attribute);
        return !caseSensitive && key instanceof String s ? s.toLowerCase(Locale.ROOT) : key;
    }

    private static List<Object> unique(Call c) {
        List<Object> out = new ArrayList<>(), seen = new ArrayList<>();
        for (Object x : Py.iterate(c.value())) {
            Object key = sortKey(x, c.flag(0, "case_sensitive"), c.get(1, "attribute", null));
            if (seen.stream().noneMatch(k -> Py.eq(k, key))) { seen.add(key); out.add(x); }
        }
        return out;
    }

    private static List<Object> dictsort(Call c) {
        if (!(c.value() instanceof Map<?, ?> m)) throw TemplateException.type("dictsort needs a dict");
        boolean byValue = "value".equals(c.get(1, "by", "key"));
        List<Object> items = new ArrayList<>();
        new LinkedHashMap<Object, Object>(m).forEach((k, x) -> items.add(Tuple.of(k, x)));
        boolean caseSensitive = c.flag(0, "case_sensitive");
        items.sort((a, b) -> Py.compare(sortKey(((Tuple) a).get(byValue ? 1 : 0), caseSensitive, null),
                sortKey(((Tuple) b).get(byValue ? 1 : 0), caseSensitive, null), "<"));
        return c.flag(2, "reverse") ? items.reversed() : items;
    }
}
