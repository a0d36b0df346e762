package dev.pdserve.tokenizer.jinja;

import java.util.LinkedHashMap;
import java.util.Map;

/** jinja2's namespace(): the one object a template may change from inside a loop ({@code set ns.x = ...}). */
final class Namespace {
    final Map<String, Object> attributes = new LinkedHashMap<>();

    @Override public String toString() { return "<Namespace " + Py.repr(attributes) + ">"; }
}
