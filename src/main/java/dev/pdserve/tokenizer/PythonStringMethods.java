package dev.pdserve.tokenizer;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Python's {@code str} methods for chat templates ({@code content.strip()}, {@code .startswith(...)},
 * {@code .split(sep)[-1]}, ...). Jinjava would otherwise call the Java method of the same name, which is
 * missing ({@code startswith}) or means something else ({@code split} takes a regex and drops trailing
 * empty strings). Placed before Jinjava's own resolvers; anything else falls through to them.
 */
final class PythonStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
        if (!(base instanceof CharSequence) || !(method instanceof String name)) return null;
        Object[] args = params == null ? new Object[0] : params;
        Object result = call(base.toString(), name, args);
        if (result == NOT_HANDLED) return null;
        context.setPropertyResolved(true);
        return result;
    }

    private static final Object NOT_HANDLED = new Object();

    private static Object call(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> strip(s, arg(a, 0), true, true);
            case "lstrip" -> strip(s, arg(a, 0), true, false);
            case "rstrip" -> strip(s, arg(a, 0), false, true);
            case "split" -> split(s, arg(a, 0), a.length > 1 ? ((Number) a[1]).intValue() : -1);
            case "splitlines" -> s.lines().toList();
            case "startswith" -> matchesAny(s, a[0], true);
            case "endswith" -> matchesAny(s, a[0], false);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "replace" -> replace(s, str(a[0]), str(a[1]), a.length > 2 ? ((Number) a[2]).intValue() : -1);
            case "find" -> (long) s.indexOf(str(a[0]));
            case "rfind" -> (long) s.lastIndexOf(str(a[0]));
            case "count" -> count(s, str(a[0]));
            case "join" -> join(s, a[0]);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(PythonStringMethods::isSpace);
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            default -> NOT_HANDLED;
        };
    }

    private static String arg(Object[] a, int i) { return i < a.length && a[i] != null ? a[i].toString() : null; }

    private static String str(Object o) { return String.valueOf(o); }

    private static boolean isSpace(int c) { return Character.isWhitespace(c) || Character.isSpaceChar(c); }

    /** Python strip: whitespace by default, else any of the given characters. */
    private static String strip(String s, String chars, boolean left, boolean right) {
        int from = 0, to = s.length();
        while (left && from < to && strippable(s.charAt(from), chars)) from++;
        while (right && to > from && strippable(s.charAt(to - 1), chars)) to--;
        return s.substring(from, to);
    }

    private static boolean strippable(char c, String chars) { return chars == null ? isSpace(c) : chars.indexOf(c) >= 0; }

    /** Python split: on runs of whitespace without a separator, else on the literal separator, keeping empty parts. */
    private static List<String> split(String s, String sep, int maxSplit) {
        List<String> parts = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxSplit >= 0 && parts.size() == maxSplit) { parts.add(strip(s.substring(i), null, false, true)); break; }
                int start = i;
                while (i < n && !isSpace(s.charAt(i))) i++;
                parts.add(s.substring(start, i));
            }
            return parts;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        int start = 0, at;
        while ((maxSplit < 0 || parts.size() < maxSplit) && (at = s.indexOf(sep, start)) >= 0) {
            parts.add(s.substring(start, at));
            start = at + sep.length();
        }
        parts.add(s.substring(start));
        return parts;
    }

    /** startswith/endswith take one string or a tuple of them. */
    private static boolean matchesAny(String s, Object what, boolean prefix) {
        if (what instanceof Iterable<?> options) {
            for (Object o : options) if (prefix ? s.startsWith(str(o)) : s.endsWith(str(o))) return true;
            return false;
        }
        return prefix ? s.startsWith(str(what)) : s.endsWith(str(what));
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(inWord ? Character.toLowerCase(c) : Character.toUpperCase(c));
            inWord = Character.isLetter(c);
        }
        return out.toString();
    }

    private static String replace(String s, String old, String neu, int count) {
        if (count < 0 || old.isEmpty()) return s.replace(old, neu);
        StringBuilder out = new StringBuilder();
        int start = 0, at;
        for (int done = 0; done < count && (at = s.indexOf(old, start)) >= 0; done++) {
            out.append(s, start, at).append(neu);
            start = at + old.length();
        }
        return out.append(s, start, s.length()).toString();
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1L;
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        List<String> parts = new ArrayList<>();
        if (items instanceof Iterable<?> it) for (Object o : it) parts.add(str(o));
        else if (items instanceof Object[] arr) for (Object o : arr) parts.add(str(o));
        else parts.add(str(items));
        return String.join(sep, parts);
    }

    // Property access is left to Jinjava's resolvers.
    @Override public Object getValue(ELContext context, Object base, Object property) { return null; }
    @Override public Class<?> getType(ELContext context, Object base, Object property) { return null; }
    @Override public void setValue(ELContext context, Object base, Object property, Object value) {}
    @Override public boolean isReadOnly(ELContext context, Object base, Object property) { return true; }
    @Override public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) { return Collections.emptyIterator(); }
    @Override public Class<?> getCommonPropertyType(ELContext context, Object base) { return null; }
}
