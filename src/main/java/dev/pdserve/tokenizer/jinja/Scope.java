package dev.pdserve.tokenizer.jinja;

import java.util.HashMap;
import java.util.Map;

/** Variables of one level: the template's top, a loop iteration, a macro call; lookups go up to the globals. */
final class Scope {
    private final Map<String, Object> vars = new HashMap<>();
    private final Scope parent;

    Scope(Scope parent) { this.parent = parent; }

    Scope(Map<String, Object> vars, Scope parent) {
        this.vars.putAll(vars);
        this.parent = parent;
    }

    Object get(String name) {
        for (Scope s = this; s != null; s = s.parent) {
            if (s.vars.containsKey(name)) return s.vars.get(name);
        }
        return Undefined.name(name);
    }

    void set(String name, Object value) { vars.put(name, value); }
}
