package dev.pdserve.tokenizer.jinja;

import dev.pdserve.tokenizer.jinja.Node.Args;
import dev.pdserve.tokenizer.jinja.Node.Expr;
import dev.pdserve.tokenizer.jinja.Token.Kind;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Jinja expressions, with jinja2's precedence: conditional, or, and, not, comparisons and
 * {@code in}, {@code + -}, {@code ~}, {@code * / // %}, {@code **}, unary minus, then filters and
 * {@code is} tests, which bind tighter than any operator ({@code not x is defined} tests x).
 */
class ExpressionParser {
    private static final Set<String> COMPARISONS = Set.of("==", "!=", "<", ">", "<=", ">=");

    private final List<Token> tokens;
    private int at;

    ExpressionParser(List<Token> tokens) { this.tokens = tokens; }

    // ---- the token cursor

    Token peek() { return tokens.get(at); }

    Token peek(int ahead) { return tokens.get(Math.min(at + ahead, tokens.size() - 1)); }

    Token next() { return tokens.get(at++); }

    boolean skipOp(String op) {
        if (!peek().isOp(op)) return false;
        at++;
        return true;
    }

    boolean skipName(String name) {
        if (!peek().isName(name)) return false;
        at++;
        return true;
    }

    Token expect(Kind kind, String what) {
        if (peek().kind() != kind) throw error("expected " + what + ", got " + peek());
        return next();
    }

    void expectOp(String op) {
        if (!skipOp(op)) throw error("expected '" + op + "', got " + peek());
    }

    TemplateException error(String message) { return TemplateException.syntax(message, peek().line()); }

    // ---- expressions

    /** Expressions separated by commas: one alone is itself, several a tuple. */
    Expr tuple(boolean withCondExpr, Set<String> endNames) {
        List<Expr> items = new ArrayList<>();
        boolean comma = false;
        while (true) {
            if (!items.isEmpty() && !skipOp(",")) break;
            if (!items.isEmpty()) comma = true;
            if (endsTuple(endNames)) break;
            items.add(withCondExpr ? expression() : or());
        }
        if (items.isEmpty()) throw error("expected an expression, got " + peek());
        return items.size() == 1 && !comma ? items.getFirst() : new Node.TupleLit(items);
    }

    private boolean endsTuple(Set<String> endNames) {
        Token t = peek();
        return t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.kind() == Kind.EOF || t.isOp(")")
                || t.kind() == Kind.NAME && endNames.contains(t.value());
    }

    Expr expression() {
        Expr e = or();
        while (skipName("if")) {
            Expr condition = or();
            Expr orElse = skipName("else") ? expression() : null;
            e = new Node.CondExpr(condition, e, orElse);
        }
        return e;
    }

    Expr or() {
        Expr e = and();
        while (skipName("or")) e = new Node.Binary("or", e, and());
        return e;
    }

    private Expr and() {
        Expr e = not();
        while (skipName("and")) e = new Node.Binary("and", e, not());
        return e;
    }

    private Expr not() {
        if (skipName("not")) return new Node.Unary("not", not());
        return compare();
    }

    private Expr compare() {
        Expr first = math1();
        List<Expr> operands = new ArrayList<>(List.of(first));
        List<String> ops = new ArrayList<>();
        while (true) {
            Token t = peek();
            if (t.kind() == Kind.OP && COMPARISONS.contains(t.value())) { next(); ops.add(t.value()); }
            else if (skipName("in")) ops.add("in");
            else if (t.isName("not") && peek(1).isName("in")) { at += 2; ops.add("not in"); }
            else break;
            operands.add(math1());
        }
        return ops.isEmpty() ? first : new Node.Compare(operands, ops);
    }

    private Expr math1() {
        Expr e = concat();
        while (peek().isOp("+") || peek().isOp("-")) e = new Node.Binary(next().value(), e, concat());
        return e;
    }

    private Expr concat() {
        List<Expr> parts = new ArrayList<>(List.of(math2()));
        while (skipOp("~")) parts.add(math2());
        return parts.size() == 1 ? parts.getFirst() : new Node.Concat(parts);
    }

    private Expr math2() {
        Expr e = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            e = new Node.Binary(next().value(), e, pow());
        }
        return e;
    }

    private Expr pow() {
        Expr e = unary(true);
        while (skipOp("**")) e = new Node.Binary("**", e, unary(true));
        return e;
    }

    private Expr unary(boolean withFilter) {
        Expr e;
        if (skipOp("-")) e = new Node.Unary("-", unary(false));
        else if (skipOp("+")) e = new Node.Unary("+", unary(false));
        else e = primary();
        e = postfix(e);
        return withFilter ? filters(e) : e;
    }

    Expr primary() {
        Token t = next();
        return switch (t.kind()) {
            case NAME -> switch (t.value()) {
                case "true", "True" -> new Node.Const(true);
                case "false", "False" -> new Node.Const(false);
                case "none", "None" -> new Node.Const(null);
                default -> new Node.Name(t.value());
            };
            case STRING -> {
                StringBuilder s = new StringBuilder(t.value());
                while (peek().kind() == Kind.STRING) s.append(next().value());
                yield new Node.Const(s.toString());
            }
            case INT -> new Node.Const(Long.parseLong(t.value()));
            case FLOAT -> new Node.Const(Double.parseDouble(t.value()));
            case OP -> switch (t.value()) {
                case "(" -> {
                    if (skipOp(")")) yield new Node.TupleLit(List.of());
                    Expr e = tuple(true, Set.of());
                    expectOp(")");
                    yield e;
                }
                case "[" -> new Node.ListLit(items("]"));
                case "{" -> dict();
                default -> throw TemplateException.syntax("unexpected " + t, t.line());
            };
            default -> throw TemplateException.syntax("unexpected " + t, t.line());
        };
    }

    private List<Expr> items(String close) {
        List<Expr> items = new ArrayList<>();
        while (!skipOp(close)) {
            if (!items.isEmpty()) {
                expectOp(",");
                if (skipOp(close)) break;
            }
            items.add(expression());
        }
        return items;
    }

    private Expr dict() {
        List<Expr> keys = new ArrayList<>(), values = new ArrayList<>();
        while (!skipOp("}")) {
            if (!keys.isEmpty()) {
                expectOp(",");
                if (skipOp("}")) break;
            }
            keys.add(expression());
            expectOp(":");
            values.add(expression());
        }
        return new Node.DictLit(keys, values);
    }

    private Expr postfix(Expr e) {
        while (true) {
            if (skipOp(".")) {
                Token t = next();
                if (t.kind() == Kind.NAME) e = new Node.GetAttr(e, t.value());
                else if (t.kind() == Kind.INT) e = new Node.GetItem(e, new Node.Const(Long.parseLong(t.value())));
                else throw TemplateException.syntax("expected an attribute name after '.', got " + t, t.line());
            } else if (skipOp("[")) {
                List<Expr> keys = new ArrayList<>();
                while (!skipOp("]")) {
                    if (!keys.isEmpty()) expectOp(",");
                    keys.add(subscript());
                }
                e = new Node.GetItem(e, keys.size() == 1 ? keys.getFirst() : new Node.TupleLit(keys));
            } else if (peek().isOp("(")) {
                e = new Node.Call(e, callArgs());
            } else {
                return e;
            }
        }
    }

    private Expr subscript() {
        Expr start = peek().isOp(":") ? null : expression();
        if (!skipOp(":")) return start;
        Expr stop = peek().isOp(":") || peek().isOp("]") || peek().isOp(",") ? null : expression();
        Expr step = null;
        if (skipOp(":") && !peek().isOp("]") && !peek().isOp(",")) step = expression();
        return new Node.Slice(start, stop, step);
    }

    private Expr filters(Expr e) {
        while (true) {
            if (skipOp("|")) e = new Node.Filter(e, dottedName(), peek().isOp("(") ? callArgs() : Args.NONE);
            else if (skipName("is")) e = test(e);
            else if (peek().isOp("(")) e = new Node.Call(e, callArgs());
            else return e;
        }
    }

    /** Filters of a filter block or a block set: {@code name(args) | name ...}. */
    List<Node.Filter> filterChain() {
        List<Node.Filter> chain = new ArrayList<>();
        do chain.add(new Node.Filter(null, dottedName(), peek().isOp("(") ? callArgs() : Args.NONE));
        while (skipOp("|"));
        return chain;
    }

    private Expr test(Expr target) {
        boolean negated = skipName("not");
        String name = dottedName();
        Args args = Args.NONE;
        Token t = peek();
        if (t.isOp("(")) {
            args = callArgs();
        } else if ((t.kind() == Kind.NAME && !Set.of("else", "or", "and").contains(t.value()))
                || t.kind() == Kind.STRING || t.kind() == Kind.INT || t.kind() == Kind.FLOAT || t.isOp("[") || t.isOp("{")) {
            if (t.isName("is")) throw error("You cannot chain multiple tests with is");
            args = new Args(List.of(postfix(primary())), List.of(), List.of(), null, null);
        }
        return new Node.Test(target, name, args, negated);
    }

    private String dottedName() {
        StringBuilder name = new StringBuilder(expect(Kind.NAME, "a name").value());
        while (peek().isOp(".") && peek(1).kind() == Kind.NAME) {
            at++;
            name.append('.').append(next().value());
        }
        return name.toString();
    }

    Args callArgs() {
        expectOp("(");
        List<Expr> positional = new ArrayList<>(), named = new ArrayList<>();
        List<String> names = new ArrayList<>();
        Expr star = null, starStar = null;
        boolean first = true;
        while (!skipOp(")")) {
            if (!first) {
                expectOp(",");
                if (skipOp(")")) break;
            }
            first = false;
            if (skipOp("*")) star = expression();
            else if (skipOp("**")) starStar = expression();
            else if (peek().kind() == Kind.NAME && peek(1).isOp("=")) {
                names.add(next().value());
                at++;
                named.add(expression());
            } else {
                positional.add(expression());
            }
        }
        return new Args(positional, names, named, star, starStar);
    }
}
