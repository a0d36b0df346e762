package dev.pdserve.tokenizer.jinja;

import java.util.List;

/** The syntax tree of a template: statements ({@link Stmt}) holding expressions ({@link Expr}). */
final class Node {
    private Node() {}

    sealed interface Stmt {}

    record Text(String text) implements Stmt {}

    record Output(Expr value) implements Stmt {}

    record If(List<Expr> conditions, List<List<Stmt>> bodies, List<Stmt> orElse) implements Stmt {}

    record For(Expr target, Expr iterable, Expr filter, List<Stmt> body, List<Stmt> orElse) implements Stmt {}

    /** {@code {% set target = value %}}; the target is a name, a tuple of names, or {@code ns.attr}. */
    record Set(Expr target, Expr value) implements Stmt {}

    /** {@code {% set name %}body{% endset %}}, the body's text through the filters, if any. */
    record SetBlock(String name, List<Filter> filters, List<Stmt> body) implements Stmt {}

    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body) implements Stmt {}

    /** {@code {% filter f %}body{% endfilter %}}: the filter applied to the rendered body. */
    record FilterBlock(List<Filter> filters, List<Stmt> body) implements Stmt {}

    record Break() implements Stmt {}

    record Continue() implements Stmt {}

    sealed interface Expr {}

    record Const(Object value) implements Expr {}

    record Name(String name) implements Expr {}

    record ListLit(List<Expr> items) implements Expr {}

    record TupleLit(List<Expr> items) implements Expr {}

    record DictLit(List<Expr> keys, List<Expr> values) implements Expr {}

    record GetAttr(Expr target, String name) implements Expr {}

    record GetItem(Expr target, Expr key) implements Expr {}

    /** {@code start:stop:step} inside brackets; absent parts are null. */
    record Slice(Expr start, Expr stop, Expr step) implements Expr {}

    record Call(Expr function, Args args) implements Expr {}

    /** {@code target | name(args)}; the target is null in a filter block's chain. */
    record Filter(Expr target, String name, Args args) implements Expr {}

    record Test(Expr target, String name, Args args, boolean negated) implements Expr {}

    record Unary(String op, Expr operand) implements Expr {}

    record Binary(String op, Expr left, Expr right) implements Expr {}

    /** A chain {@code a < b <= c}: ops.get(i) between operands i and i + 1. */
    record Compare(List<Expr> operands, List<String> ops) implements Expr {}

    record Concat(List<Expr> parts) implements Expr {}

    /** {@code then if condition else orElse}; orElse is null when there is no else. */
    record CondExpr(Expr condition, Expr then, Expr orElse) implements Expr {}

    record Args(List<Expr> positional, List<String> names, List<Expr> named, Expr star, Expr starStar) {
        static final Args NONE = new Args(List.of(), List.of(), List.of(), null, null);
    }
}
