package dev.pdserve.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python's str methods, on code points as Python counts them. */
final class StringMethods {
    private StringMethods() {}

    static Object call(String s, String name, List<Object> args, Map<String, Object> kwargs) {
        Object a0 = arg(args, kwargs, 0, null), a1 = arg(args, kwargs, 1, null);
        return switch (name) {
            case "strip" -> strip(s, chars(a0), true, true);
            case "lstrip" -> strip(s, chars(a0), true, false);
            case "rstrip" -> strip(s, chars(a0), false, true);
            case "split" -> split(s, chars(arg(args, kwargs, 0, "sep")), a1 == null ? toInt(kwargs.getOrDefault("maxsplit", -1L)) : toInt(a1));
            case "rsplit" -> rsplit(s, chars(arg(args, kwargs, 0, "sep")), a1 == null ? toInt(kwargs.getOrDefault("maxsplit", -1L)) : toInt(a1));
            case "splitlines" -> splitlines(s);
            case "startswith" -> affix(s, a0, true);
            case "endswith" -> affix(s, a0, false);
            case "upper" -> s.toUpperCase(java.util.Locale.ROOT);
            case "lower", "casefold" -> s.toLowerCase(java.util.Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, s.offsetByCodePoints(0, 1)).toUpperCase(java.util.Locale.ROOT)
                    + s.substring(s.offsetByCodePoints(0, 1)).toLowerCase(java.util.Locale.ROOT);
            case "swapcase" -> swapcase(s);
            case "replace" -> replace(s, str(a0), str(a1), args.size() > 2 ? toInt(args.get(2)) : toInt(kwargs.getOrDefault("count", -1L)));
            case "join" -> String.join(s, Py.iterate(a0).stream().map(x -> {
                if (!(x instanceof String t)) throw TemplateException.type("sequence item: expected str instance, " + Py.typeName(x) + " found");
                return t;
            }).toList());
            case "find", "index" -> found(name, s.indexOf(str(a0)) < 0 ? -1 : s.codePointCount(0, s.indexOf(str(a0))));
            case "rfind", "rindex" -> found(name, s.lastIndexOf(str(a0)) < 0 ? -1 : s.codePointCount(0, s.lastIndexOf(str(a0))));
            case "count" -> count(s, str(a0));
            case "format" -> Formatting.format(s, args, kwargs);
            case "isdigit", "isnumeric", "isdecimal" -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(c -> Py.isSpace((char) c));
            case "isupper" -> s.codePoints().anyMatch(Character::isUpperCase) && s.codePoints().noneMatch(Character::isLowerCase);
            case "islower" -> s.codePoints().anyMatch(Character::isLowerCase) && s.codePoints().noneMatch(Character::isUpperCase);
            case "istitle" -> !s.isEmpty() && title(s).equals(s) && s.codePoints().anyMatch(Character::isLetter);
            case "zfill" -> zfill(s, toInt(a0));
            case "center", "ljust", "rjust" -> justify(s, name, toInt(a0), a1 == null ? " " : str(a1));
            case "partition", "rpartition" -> partition(s, str(a0), name.equals("partition"));
            case "removeprefix" -> s.startsWith(str(a0)) ? s.substring(str(a0).length()) : s;
            case "removesuffix" -> s.endsWith(str(a0)) && !str(a0).isEmpty() ? s.substring(0, s.length() - str(a0).length()) : s;
            case "expandtabs" -> s.replace("\t", "        ");
            default -> throw TemplateException.render("SecurityError: str." + name + " is not available");
        };
    }

    static List<Object> splitlines(String s) {
        List<Object> out = new ArrayList<>(List.of(s.split("\r\n|[\n\r\u000b\u000c\u001c\u001d\u001e\u0085\u2028\u2029]", -1)));
        if (((String) out.getLast()).isEmpty()) out.removeLast();
        return out;
    }

    private static Object arg(List<Object> args, Map<String, Object> kwargs, int i, String name) {
        if (i < args.size()) return args.get(i);
        return name == null ? null : kwargs.get(name);
    }

    private static String str(Object o) {
        if (o instanceof String s) return s;
        throw TemplateException.type("must be str, not " + Py.typeName(o));
    }

    private static String chars(Object o) { return o == null ? null : str(o); }

    private static int toInt(Object o) {
        if (!Py.isInt(o)) throw TemplateException.type("'" + Py.typeName(o) + "' object cannot be interpreted as an integer");
        return (int) Py.toLong(o);
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int[] cps = s.codePoints().toArray();
        int lo = 0, hi = cps.length;
        while (left && lo < hi && stripped(cps[lo], chars)) lo++;
        while (right && hi > lo && stripped(cps[hi - 1], chars)) hi--;
        return new String(cps, lo, hi - lo);
    }

    private static boolean stripped(int c, String chars) {
        return chars == null ? c < 0x10000 && Py.isSpace((char) c) : chars.codePoints().anyMatch(x -> x == c);
    }

    static List<Object> split(String s, String sep, int max) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            String rest = strip(s, null, true, false);
            while (!rest.isEmpty()) {
                if (max >= 0 && out.size() == max) { out.add(strip(rest, null, false, true)); return out; }
                int end = 0;
                while (end < rest.length() && !Py.isSpace(rest.charAt(end))) end++;
                out.add(rest.substring(0, end));
                rest = strip(rest.substring(end), null, true, false);
            }
            return out;
        }
        if (sep.isEmpty()) throw TemplateException.render("ValueError: empty separator");
        int from = 0;
        for (int i = s.indexOf(sep); i >= 0 && (max < 0 || out.size() < max); i = s.indexOf(sep, from)) {
            out.add(s.substring(from, i));
            from = i + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<Object> rsplit(String s, String sep, int max) {
        if (max < 0 || sep == null) return split(s, sep, max);
        List<Object> out = new ArrayList<>();
        int to = s.length();
        for (int i = s.lastIndexOf(sep, to - sep.length()); i >= 0 && out.size() < max; i = s.lastIndexOf(sep, to - sep.length())) {
            out.addFirst(s.substring(i + sep.length(), to));
            to = i;
            if (to < sep.length()) { i = -1; break; }
        }
        out.addFirst(s.substring(0, to));
        return out;
    }

    private static boolean affix(String s, Object a, boolean prefix) {
        if (a instanceof List<?> options) return options.stream().anyMatch(o -> affix(s, o, prefix));
        return prefix ? s.startsWith(str(a)) : s.endsWith(str(a));
    }

    /** Python's str.title: a cased letter after an uncased character starts a word. */
    static String title(String s) {
        StringBuilder out = new StringBuilder();
        boolean previousCased = false;
        for (int c : s.codePoints().toArray()) {
            boolean cased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
            out.appendCodePoint(cased ? (previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c)) : c);
            previousCased = cased;
        }
        return out.toString();
    }

    private static String swapcase(String s) {
        StringBuilder out = new StringBuilder();
        s.codePoints().forEach(c -> out.appendCodePoint(Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c)));
        return out.toString();
    }

    static String replace(String s, String old, String with, int count) {
        if (count < 0) return s.replace(old, with);
        StringBuilder out = new StringBuilder();
        int from = 0;
        for (int n = 0; n < count; n++) {
            int i = s.indexOf(old, from);
            if (i < 0 || old.isEmpty()) break;
            out.append(s, from, i).append(with);
            from = i + old.length();
        }
        return out.append(s.substring(from)).toString();
    }

    private static Object found(String method, int index) {
        if (index < 0 && method.endsWith("index")) throw TemplateException.render("ValueError: substring not found");
        return (long) index;
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) return s.codePointCount(0, s.length()) + 1;
        long n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) n++;
        return n;
    }

    private static String zfill(String s, int width) {
        int n = s.codePointCount(0, s.length());
        if (n >= width) return s;
        boolean signed = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+');
        return (signed ? s.substring(0, 1) : "") + "0".repeat(width - n) + (signed ? s.substring(1) : s);
    }

    private static String justify(String s, String how, int width, String fill) {
        int n = s.codePointCount(0, s.length());
        if (n >= width) return s;
        int pad = width - n;
        return switch (how) {
            case "ljust" -> s + fill.repeat(pad);
            case "rjust" -> fill.repeat(pad) + s;
            default -> {
                int left = pad / 2 + (pad & width & 1);
                yield fill.repeat(left) + s + fill.repeat(pad - left);
            }
        };
    }

    private static Tuple partition(String s, String sep, boolean first) {
        int i = first ? s.indexOf(sep) : s.lastIndexOf(sep);
        if (i < 0) return first ? Tuple.of(s, "", "") : Tuple.of("", "", s);
        return Tuple.of(s.substring(0, i), sep, s.substring(i + sep.length()));
    }
}
