package dev.pdserve.tokenizer.jinja;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The functions every template sees: jinja2's range, namespace, dict, and transformers' raise_exception, strftime_now. */
final class Globals {
    private static final long MAX_RANGE = 100_000; // the sandbox's limit

    private Globals() {}

    static Scope scope(Clock clock) {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("range", (Callable) (args, kwargs) -> range(args));
        g.put("namespace", (Callable) (args, kwargs) -> {
            Namespace ns = new Namespace();
            for (Object a : args) if (a instanceof Map<?, ?> m) m.forEach((k, v) -> ns.attributes.put(Py.str(k), v));
            ns.attributes.putAll(kwargs);
            return ns;
        });
        g.put("dict", (Callable) (args, kwargs) -> {
            Map<Object, Object> d = new LinkedHashMap<>();
            for (Object a : args) if (a instanceof Map<?, ?> m) d.putAll(m);
            d.putAll(kwargs);
            return d;
        });
        g.put("raise_exception", (Callable) (args, kwargs) -> {
            throw TemplateException.raised(args.isEmpty() ? "" : Py.str(args.getFirst()));
        });
        g.put("strftime_now", (Callable) (args, kwargs) -> Strftime.format(Py.str(args.getFirst()), ZonedDateTime.now(clock)));
        return new Scope(g, null);
    }

    private static List<Object> range(List<Object> args) {
        for (Object a : args) if (!Py.isInt(a)) throw TemplateException.type("'" + Py.typeName(a) + "' object cannot be interpreted as an integer");
        long start = args.size() > 1 ? Py.toLong(args.get(0)) : 0;
        long stop = args.size() > 1 ? Py.toLong(args.get(1)) : Py.toLong(args.getFirst());
        long step = args.size() > 2 ? Py.toLong(args.get(2)) : 1;
        if (step == 0) throw TemplateException.render("ValueError: range() arg 3 must not be zero");
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= MAX_RANGE) throw TemplateException.render("OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            out.add(i);
        }
        return out;
    }
}
