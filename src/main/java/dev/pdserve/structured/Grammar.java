package dev.pdserve.structured;

import java.util.LinkedHashMap;
import java.util.Map;

/** Named rules and the rule the whole output must match. */
record Grammar(Map<String, Expr> rules, String root) {
    Grammar {
        rules = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(rules));
        if (!rules.containsKey(root)) throw new IllegalArgumentException("no root rule " + root);
    }

    static Grammar of(Expr root) { return new Grammar(Map.of("root", root), "root"); }
}
