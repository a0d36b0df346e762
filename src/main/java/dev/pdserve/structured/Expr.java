package dev.pdserve.structured;

import java.util.List;

/**
 * The grammar language every constraint compiles to: regular operators over Unicode text plus
 * references to named rules (which is what makes recursion, and so JSON nesting, possible).
 * Text is matched as its UTF-8 bytes.
 */
sealed interface Expr {
    /** Matches exactly {@code text}. */
    record Literal(String text) implements Expr {}

    /** Matches one code point of {@code set}. */
    record Chars(CodePointSet set) implements Expr {}

    record Seq(List<Expr> items) implements Expr {}

    record Alt(List<Expr> options) implements Expr {}

    /** {@code body} between {@code min} and {@code max} times; {@code max < 0} is unbounded. */
    record Repeat(Expr body, int min, int max) implements Expr {}

    record Ref(String rule) implements Expr {}

    Expr EMPTY = new Seq(List.of());
    Expr NOTHING = new Alt(List.of());

    static Expr lit(String s) { return new Literal(s); }

    static Expr seq(Expr... items) { return items.length == 1 ? items[0] : new Seq(List.of(items)); }

    static Expr seq(List<Expr> items) { return items.size() == 1 ? items.getFirst() : new Seq(List.copyOf(items)); }

    static Expr alt(Expr... options) { return options.length == 1 ? options[0] : new Alt(List.of(options)); }

    static Expr alt(List<Expr> options) { return options.size() == 1 ? options.getFirst() : new Alt(List.copyOf(options)); }

    static Expr chars(CodePointSet set) { return new Chars(set); }

    static Expr opt(Expr e) { return new Repeat(e, 0, 1); }

    static Expr star(Expr e) { return new Repeat(e, 0, -1); }

    static Expr plus(Expr e) { return new Repeat(e, 1, -1); }
}
