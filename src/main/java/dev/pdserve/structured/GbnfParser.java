package dev.pdserve.structured;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GBNF, the grammar format of llama.cpp that xgrammar also reads: {@code name ::= alternatives}
 * one rule per line (a rule continues on the next line inside parentheses or after a trailing
 * {@code |}), {@code "literals"}, {@code [character classes]}, {@code .}, groups and the
 * repetitions {@code * + ? {m} {m,} {m,n}}, {@code #} comments; the output must match {@code root}.
 */
final class GbnfParser {
    private final String src;
    private int pos;
    private final Map<String, Expr> rules = new LinkedHashMap<>();

    private GbnfParser(String src) { this.src = src; }

    static Grammar parse(String text) {
        GbnfParser p = new GbnfParser(text);
        p.grammar();
        if (!p.rules.containsKey("root")) {
            throw new ConstraintException("the grammar has no 'root' rule (GBNF: root ::= ...)");
        }
        return new Grammar(p.rules, "root");
    }

    private static boolean looksLikeLark(String text) {
        return !text.contains("::=") && text.lines().anyMatch(l -> l.matches("\\s*\\??[a-z_][a-z_0-9]*\\s*:.*"));
    }

    private ConstraintException error(String what) {
        int line = 1, col = 1;
        for (int i = 0; i < Math.min(pos, src.length()); i++) {
            if (src.charAt(i) == '\n') { line++; col = 1; } else col++;
        }
        return new ConstraintException("invalid grammar at line " + line + ", column " + col + ": " + what);
    }

    private boolean more() { return pos < src.length(); }

    private char peek() { return src.charAt(pos); }

    private void space(boolean newlines) {
        while (more()) {
            char c = peek();
            if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) pos++;
            else if (c == '#') while (more() && peek() != '\n') pos++;
            else break;
        }
    }

    private void grammar() {
        space(true);
        while (more()) {
            String name = name();
            if (name.isEmpty()) throw error("expected a rule name");
            space(false);
            if (!src.startsWith("::=", pos)) {
                throw error("expected '::=' after rule name '" + name + "'" + (looksLikeLark(src)
                        ? "; this looks like a Lark grammar, which pdserve does not read: write it as GBNF" : ""));
            }
            pos += 3;
            space(true);
            Expr body = alternates(false);
            if (rules.containsKey(name)) throw error("rule '" + name + "' is defined twice");
            rules.put(name, body);
            if (more() && peek() == '\r') pos++;
            if (more() && peek() == '\n') pos++;
            else if (more()) throw error("expected the end of the line after rule '" + name + "', found '" + peek() + "'");
            space(true);
        }
    }

    private String name() {
        int start = pos;
        while (more() && (Character.isLetterOrDigit(peek()) || peek() == '-' || peek() == '_')) pos++;
        return src.substring(start, pos);
    }

    private Expr alternates(boolean nested) {
        List<Expr> options = new ArrayList<>();
        options.add(sequence(nested));
        while (more() && peek() == '|') {
            pos++;
            space(true);
            options.add(sequence(nested));
        }
        return Expr.alt(options);
    }

    private Expr sequence(boolean nested) {
        List<Expr> items = new ArrayList<>();
        while (more()) {
            char c = peek();
            Expr item;
            if (c == '"') {
                pos++;
                StringBuilder sb = new StringBuilder();
                while (true) {
                    if (!more() || peek() == '\n') throw error("unterminated string literal");
                    if (peek() == '"') { pos++; break; }
                    sb.appendCodePoint(character());
                }
                item = Expr.lit(sb.toString());
            } else if (c == '[') {
                pos++;
                item = Expr.chars(charClass());
            } else if (c == '.') {
                pos++;
                item = Expr.chars(CodePointSet.ALL);
            } else if (c == '(') {
                pos++;
                space(true);
                item = alternates(true);
                if (!more() || peek() != ')') throw error("expected ')'");
                pos++;
            } else if (Character.isLetterOrDigit(c) || c == '-' || c == '_') {
                item = new Expr.Ref(name());
            } else if (c == '<') {
                throw error("token references (<...>) are not supported");
            } else {
                break;
            }
            space(nested);
            item = repetitions(item, nested);
            items.add(item);
        }
        return Expr.seq(items);
    }

    private Expr repetitions(Expr item, boolean nested) {
        while (more()) {
            char c = peek();
            if (c == '*') { pos++; item = Expr.star(item); }
            else if (c == '+') { pos++; item = Expr.plus(item); }
            else if (c == '?') { pos++; item = Expr.opt(item); }
            else if (c == '{') {
                pos++;
                space(nested);
                int min = integer();
                int max = min;
                space(nested);
                if (more() && peek() == ',') {
                    pos++;
                    space(nested);
                    max = more() && Character.isDigit(peek()) ? integer() : -1;
                    space(nested);
                }
                if (!more() || peek() != '}') throw error("expected '}'");
                pos++;
                if (max >= 0 && max < min) throw error("{" + min + "," + max + "}: the maximum is below the minimum");
                if (min > RegexParser.MAX_REPEAT || max > RegexParser.MAX_REPEAT) throw error("repetition counts above " + RegexParser.MAX_REPEAT + " are not supported");
                item = new Expr.Repeat(item, min, max);
            } else {
                break;
            }
            space(nested);
        }
        return item;
    }

    private int integer() {
        int start = pos;
        while (more() && Character.isDigit(peek())) pos++;
        if (start == pos) throw error("expected a number");
        try {
            return Integer.parseInt(src.substring(start, pos));
        } catch (NumberFormatException e) {
            throw error("number too large");
        }
    }

    private CodePointSet charClass() {
        boolean negate = more() && peek() == '^';
        if (negate) pos++;
        CodePointSet set = CodePointSet.EMPTY;
        while (true) {
            if (!more()) throw error("unterminated character class");
            if (peek() == ']') { pos++; break; }
            int lo = character();
            int hi = lo;
            if (more() && peek() == '-' && pos + 1 < src.length() && src.charAt(pos + 1) != ']') {
                pos++;
                hi = character();
                if (hi < lo) throw error("range out of order");
            }
            set = set.union(CodePointSet.of(lo, hi));
        }
        return negate ? set.complement() : set;
    }

    /** One character of a literal or class, escapes decoded. */
    private int character() {
        int c = src.codePointAt(pos);
        pos += Character.charCount(c);
        if (c != '\\') return c;
        if (!more()) throw error("trailing backslash");
        char e = src.charAt(pos++);
        return switch (e) {
            case 'n' -> '\n';
            case 't' -> '\t';
            case 'r' -> '\r';
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            case 'U' -> hex(8);
            case '\\', '"', '[', ']', '-', '^', '/', '\'' -> e;
            default -> throw error("unknown escape \\" + e);
        };
    }

    private int hex(int n) {
        if (pos + n > src.length()) throw error("expected " + n + " hex digits");
        try {
            int v = Integer.parseInt(src.substring(pos, pos + n), 16);
            pos += n;
            if (v > CodePointSet.MAX || (v >= 0xD800 && v <= 0xDFFF)) throw error("not a Unicode scalar value");
            return v;
        } catch (NumberFormatException ex) {
            throw error("bad hex digits");
        }
    }
}
