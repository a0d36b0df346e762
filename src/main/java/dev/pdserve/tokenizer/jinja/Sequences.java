package dev.pdserve.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;

/** The filters that go over a sequence with an attribute, a test or another filter: map, select, selectattr... */
final class Sequences {
    private Sequences() {}

    static List<Object> apply(String name, Filters.Call c) {
        List<Object> items = Py.iterate(c.value());
        List<Object> out = new ArrayList<>();
        switch (name) {
            case "map" -> {
                if (c.args().isEmpty() && c.kwargs().containsKey("attribute")) {
                    Object absent = c.kwargs().get("default");
                    for (Object x : items) {
                        Object v = attribute(x, c.kwargs().get("attribute"));
                        out.add(v instanceof Undefined && c.kwargs().containsKey("default") ? absent : v);
                    }
                } else {
                    String filter = Py.str(c.args().getFirst());
                    List<Object> rest = c.args().subList(1, c.args().size());
                    for (Object x : items) out.add(Filters.apply(filter, new Filters.Call(x, rest, c.kwargs())));
                }
            }
            case "select", "reject" -> {
                boolean keep = name.equals("select");
                for (Object x : items) if (test(x, c.args(), 0) == keep) out.add(x);
            }
            default -> {
                boolean keep = name.equals("selectattr");
                Object attr = c.args().getFirst();
                for (Object x : items) if (test(attribute(x, attr), c.args(), 1) == keep) out.add(x);
            }
        }
        return out;
    }

    /** The test named at args[at] (truthiness when there is none) with the arguments after it. */
    private static boolean test(Object value, List<Object> args, int at) {
        if (args.size() <= at) return Py.truthy(value);
        return Tests.apply(Py.str(args.get(at)), value, args.subList(at + 1, args.size()));
    }

    /** jinja2's attribute getter: "a.b" goes down dicts, digits index lists. */
    static Object attribute(Object x, Object path) {
        if (!(path instanceof String p)) return Methods.getitem(x, path);
        Object v = x;
        for (String part : p.split("\\.")) {
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part) : part;
            v = Methods.getitem(v, key);
        }
        return v;
    }

}
