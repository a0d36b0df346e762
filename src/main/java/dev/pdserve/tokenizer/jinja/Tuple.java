package dev.pdserve.tokenizer.jinja;

import java.util.AbstractList;
import java.util.List;

/** A Python tuple: a list that prints as {@code (a, b)}. */
final class Tuple extends AbstractList<Object> {
    private final List<Object> items;

    Tuple(List<Object> items) { this.items = items; }

    static Tuple of(Object... items) { return new Tuple(java.util.Arrays.asList(items)); }

    @Override public Object get(int i) { return items.get(i); }

    @Override public int size() { return items.size(); }
}
