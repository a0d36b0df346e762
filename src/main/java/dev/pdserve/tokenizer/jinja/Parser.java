package dev.pdserve.tokenizer.jinja;

import dev.pdserve.tokenizer.jinja.Node.Expr;
import dev.pdserve.tokenizer.jinja.Node.Stmt;
import dev.pdserve.tokenizer.jinja.Token.Kind;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Template statements: text, {@code {{ }}} output and the tags chat templates use. */
final class Parser extends ExpressionParser {
    private Parser(List<Token> tokens) { super(tokens); }

    static List<Stmt> parse(String source) {
        Parser p = new Parser(Lexer.tokenize(source));
        List<Stmt> body = p.body(Set.of());
        if (p.peek().kind() != Kind.EOF) throw p.error("unexpected '" + p.peek(1).value() + "'");
        return body;
    }

    /** Statements up to EOF or a block tag named in {@code ends}, which is left unread after its "{%". */
    private List<Stmt> body(Set<String> ends) {
        List<Stmt> out = new ArrayList<>();
        while (true) {
            Token t = peek();
            switch (t.kind()) {
                case EOF -> {
                    if (!ends.isEmpty()) throw error("unexpected end of template, expected one of " + ends);
                    return out;
                }
                case TEXT -> out.add(new Node.Text(next().value()));
                case VAR_BEGIN -> {
                    next();
                    out.add(new Node.Output(tuple(true, Set.of())));
                    expect(Kind.VAR_END, "'}}'");
                }
                case BLOCK_BEGIN -> {
                    Token name = peek(1);
                    if (name.kind() == Kind.NAME && ends.contains(name.value())) {
                        next();
                        return out;
                    }
                    next();
                    out.add(statement());
                }
                default -> throw error("unexpected " + t);
            }
        }
    }

    private Stmt statement() {
        Token t = expect(Kind.NAME, "a tag name");
        Stmt s = switch (t.value()) {
            case "if" -> ifStatement();
            case "for" -> forStatement();
            case "set" -> setStatement();
            case "macro" -> macro();
            case "filter" -> filterBlock();
            case "generation" -> generation();
            case "break" -> new Node.Break();
            case "continue" -> new Node.Continue();
            default -> throw TemplateException.syntax("Encountered unknown tag '" + t.value() + "'.", t.line());
        };
        if (!(s instanceof Node.If || s instanceof Node.SetBlock || s instanceof Node.Macro
                || s instanceof Node.FilterBlock || s instanceof Node.For)) {
            expect(Kind.BLOCK_END, "'%}'");
        }
        return s;
    }

    private void endTag(String name) {
        Token t = expect(Kind.NAME, "'" + name + "'");
        if (!t.value().equals(name)) throw TemplateException.syntax("expected '" + name + "', got '" + t.value() + "'", t.line());
        expect(Kind.BLOCK_END, "'%}'");
    }

    private Stmt ifStatement() {
        List<Expr> conditions = new ArrayList<>();
        List<List<Stmt>> bodies = new ArrayList<>();
        List<Stmt> orElse = List.of();
        conditions.add(tuple(false, Set.of()));
        expect(Kind.BLOCK_END, "'%}'");
        while (true) {
            bodies.add(body(Set.of("elif", "else", "endif")));
            String tag = next().value();
            if (tag.equals("elif")) {
                conditions.add(tuple(false, Set.of()));
                expect(Kind.BLOCK_END, "'%}'");
            } else if (tag.equals("else")) {
                expect(Kind.BLOCK_END, "'%}'");
                orElse = body(Set.of("endif"));
                endTag("endif");
                break;
            } else {
                expect(Kind.BLOCK_END, "'%}'");
                break;
            }
        }
        return new Node.If(conditions, bodies, orElse);
    }

    private Stmt forStatement() {
        Expr target = assignTarget(false);
        if (!skipName("in")) throw error("expected 'in', got " + peek());
        Expr iterable = tuple(false, Set.of("recursive"));
        Expr filter = skipName("if") ? expression() : null;
        if (skipName("recursive")) throw error("recursive loops are not supported");
        expect(Kind.BLOCK_END, "'%}'");
        List<Stmt> body = body(Set.of("endfor", "else"));
        List<Stmt> orElse = List.of();
        if (next().value().equals("else")) {
            expect(Kind.BLOCK_END, "'%}'");
            orElse = body(Set.of("endfor"));
            next();
        }
        expect(Kind.BLOCK_END, "'%}'");
        return new Node.For(target, iterable, filter, body, orElse);
    }

    private Stmt setStatement() {
        Expr target = assignTarget(true);
        if (skipOp("=")) return new Node.Set(target, tuple(true, Set.of()));
        if (!(target instanceof Node.Name name)) throw error("a block set needs a plain name");
        List<Node.Filter> filters = skipOp("|") ? filterChain() : List.of();
        expect(Kind.BLOCK_END, "'%}'");
        List<Stmt> body = body(Set.of("endset"));
        endTag("endset");
        return new Node.SetBlock(name.name(), filters, body);
    }

    /** A name, names separated by commas, or (for set) {@code namespace.attribute}. */
    private Expr assignTarget(boolean withNamespace) {
        Token first = expect(Kind.NAME, "a variable name");
        if (withNamespace && peek().isOp(".")) {
            next();
            return new Node.GetAttr(new Node.Name(first.value()), expect(Kind.NAME, "an attribute name").value());
        }
        if (!peek().isOp(",")) return new Node.Name(first.value());
        List<Expr> names = new ArrayList<>(List.of(new Node.Name(first.value())));
        while (skipOp(",")) {
            if (peek().kind() != Kind.NAME || peek().isName("in")) break;
            names.add(new Node.Name(next().value()));
        }
        return new Node.TupleLit(names);
    }

    private Stmt macro() {
        String name = expect(Kind.NAME, "a macro name").value();
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        expectOp("(");
        while (!skipOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            params.add(expect(Kind.NAME, "a parameter name").value());
            if (skipOp("=")) defaults.add(expression());
            else if (!defaults.isEmpty()) throw error("non-default argument follows default argument");
        }
        expect(Kind.BLOCK_END, "'%}'");
        List<Stmt> body = body(Set.of("endmacro"));
        next();
        if (peek().isName(name)) next();
        expect(Kind.BLOCK_END, "'%}'");
        return new Node.Macro(name, params, defaults, body);
    }

    private Stmt filterBlock() {
        List<Node.Filter> filters = filterChain();
        expect(Kind.BLOCK_END, "'%}'");
        List<Stmt> body = body(Set.of("endfilter"));
        endTag("endfilter");
        return new Node.FilterBlock(filters, body);
    }

    /** transformers' {% generation %} marks assistant text for training masks; rendering keeps its body. */
    private Stmt generation() {
        expect(Kind.BLOCK_END, "'%}'");
        List<Stmt> body = body(Set.of("endgeneration"));
        endTag("endgeneration");
        return new Node.FilterBlock(List.of(), body);
    }
}
