package dev.pdserve.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Attribute and item access as jinja2's sandbox does it ({@code a.b} tries the attribute, then the
 * item; {@code a['b']} the other way round), and the methods of str, dict and list. Methods that
 * change a list or dict fail, as in the ImmutableSandboxedEnvironment transformers uses.
 */
final class Methods {
    private static final Set<String> STR = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
            "startswith", "endswith", "upper", "lower", "title", "capitalize", "replace", "join", "find", "rfind",
            "index", "rindex", "count", "format", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower",
            "isnumeric", "isdecimal", "zfill", "center", "ljust", "rjust", "casefold", "swapcase", "partition",
            "rpartition", "removeprefix", "removesuffix", "istitle", "expandtabs", "encode");
    private static final Set<String> DICT = Set.of("get", "items", "keys", "values", "copy");
    private static final Set<String> DICT_MUTATORS = Set.of("update", "pop", "popitem", "setdefault", "clear", "fromkeys");
    private static final Set<String> LIST = Set.of("index", "count", "copy");
    private static final Set<String> LIST_MUTATORS = Set.of("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse");

    private Methods() {}

    /** {@code obj.name} */
    static Object getattr(Object obj, String name) {
        return switch (obj) {
            case Undefined u -> throw u.error();
            case String s -> STR.contains(name) ? bound(obj, name) : Undefined.attribute(obj, name);
            case Map<?, ?> m -> {
                if (DICT.contains(name)) yield bound(obj, name);
                if (DICT_MUTATORS.contains(name)) yield unsafe(obj, name);
                yield m.containsKey(name) ? m.get(name) : Undefined.attribute(obj, name);
            }
            case List<?> l -> {
                if (LIST.contains(name)) yield bound(obj, name);
                if (LIST_MUTATORS.contains(name) && !(obj instanceof Tuple)) yield unsafe(obj, name);
                yield Undefined.attribute(obj, name);
            }
            case Namespace n -> n.attributes.containsKey(name) ? n.attributes.get(name) : Undefined.attribute(obj, name);
            case LoopContext loop -> loop.attribute(name);
            case null -> new Undefined("'None' has no attribute " + Py.repr(name));
            default -> Undefined.attribute(obj, name);
        };
    }

    /** {@code obj[key]}; a missing key or an index out of range is undefined. */
    static Object getitem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw u.error();
        if (key instanceof Undefined u) throw u.error();
        if (obj instanceof Map<?, ?> m) {
            Object k = key instanceof Boolean || key instanceof Double d && d == Math.rint(d) ? (Object) (long) Py.toDouble(key) : key;
            if (m.containsKey(k)) return m.get(k);
        } else if (obj instanceof List<?> l && Py.isInt(key)) {
            long i = Py.toLong(key);
            if (i < 0) i += l.size();
            return i >= 0 && i < l.size() ? l.get((int) i) : new Undefined(Py.typeName(obj) + " object has no element " + key);
        } else if (obj instanceof String s && Py.isInt(key)) {
            int[] cps = s.codePoints().toArray();
            long i = Py.toLong(key);
            if (i < 0) i += cps.length;
            return i >= 0 && i < cps.length ? Character.toString(cps[(int) i]) : new Undefined("str object has no element " + key);
        }
        if (key instanceof String name) {
            Object attr = getattr(obj, name);
            if (!(attr instanceof Undefined)) return attr;
        }
        return Undefined.attribute(obj, key);
    }

    /** {@code obj[start:stop:step]} on a list, tuple or string. */
    static Object slice(Object obj, Object start, Object stop, Object step) {
        if (obj instanceof Undefined u) throw u.error();
        List<Object> items;
        if (obj instanceof String s) items = Py.iterate(s);
        else if (obj instanceof List<?> l) items = new ArrayList<>(l);
        else throw TemplateException.type("'" + Py.typeName(obj) + "' object is not subscriptable");
        int n = items.size();
        long st = step == null ? 1 : Py.toLong(step);
        if (st == 0) throw TemplateException.render("ValueError: slice step cannot be zero");
        long lo = bound(start, n, st > 0 ? 0 : n - 1, st), hi = bound(stop, n, st > 0 ? n : -1, st);
        List<Object> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) out.add(items.get((int) i));
        if (obj instanceof String) return String.join("", out.stream().map(String.class::cast).toList());
        return obj instanceof Tuple ? new Tuple(out) : out;
    }

    private static long bound(Object index, int n, long absent, long step) {
        if (index == null) return absent;
        long i = Py.toLong(index);
        if (i < 0) i += n;
        return step > 0 ? Math.max(0, Math.min(i, n)) : Math.max(-1, Math.min(i, n - 1));
    }

    private static Callable bound(Object self, String name) {
        return (args, kwargs) -> switch (self) {
            case String s -> StringMethods.call(s, name, args, kwargs);
            case Map<?, ?> m -> dictMethod(m, name, args);
            default -> listMethod((List<?>) self, name, args);
        };
    }

    private static Callable unsafe(Object obj, String name) {
        return (args, kwargs) -> {
            throw TemplateException.render("SecurityError: access to attribute '" + name + "' of '" + Py.typeName(obj) + "' object is unsafe.");
        };
    }

    private static Object dictMethod(Map<?, ?> m, String name, List<Object> args) {
        return switch (name) {
            case "get" -> {
                if (args.isEmpty()) throw TemplateException.type("get expected at least 1 argument, got 0");
                Object key = args.getFirst();
                yield m.containsKey(key) ? m.get(key) : args.size() > 1 ? args.get(1) : null;
            }
            case "items" -> {
                List<Object> out = new ArrayList<>();
                m.forEach((k, v) -> out.add(Tuple.of(k, v)));
                yield out;
            }
            case "keys" -> new ArrayList<Object>(m.keySet());
            case "values" -> new ArrayList<Object>(m.values());
            default -> new java.util.LinkedHashMap<Object, Object>(m);
        };
    }

    private static Object listMethod(List<?> l, String name, List<Object> args) {
        return switch (name) {
            case "index" -> {
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), args.getFirst())) yield (long) i;
                throw TemplateException.render("ValueError: " + Py.repr(args.getFirst()) + " is not in list");
            }
            case "count" -> l.stream().filter(x -> Py.eq(x, args.getFirst())).count();
            default -> new ArrayList<Object>(l);
        };
    }
}
