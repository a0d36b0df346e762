package dev.pdserve.structured;

import java.util.ArrayList;
import java.util.List;

/**
 * Regular expressions (the common subset of Python's re and ECMAScript) to {@link Expr}, with
 * full-match semantics: the whole output must match, so a leading {@code ^} and a trailing
 * {@code $} change nothing. Character classes {@code \d \w \s} are the ASCII ones. Refused with a
 * message: backreferences, lookaround, word boundaries, inline flags, possessive quantifiers,
 * anchors inside the pattern.
 */
final class RegexParser {
    static final CodePointSet DIGIT = CodePointSet.of('0', '9');
    static final CodePointSet WORD = CodePointSet.of('a', 'z').union(CodePointSet.of('A', 'Z')).union(DIGIT).union(CodePointSet.ofChars("_"));
    static final CodePointSet SPACE = CodePointSet.ofChars(" \t\n\r\f\u000B");
    static final int MAX_REPEAT = 10_000;

    private final String src;
    private final int[] cps;
    private int pos;

    private RegexParser(String src) {
        this.src = src;
        this.cps = src.codePoints().toArray();
    }

    static Expr parse(String regex) {
        RegexParser p = new RegexParser(regex);
        Expr e = p.alternation(true);
        if (p.pos < p.cps.length) throw p.error("unbalanced ')'");
        return e;
    }

    private ConstraintException error(String what) {
        return new ConstraintException("invalid or unsupported regular expression at offset " + pos + " of '" + src + "': " + what);
    }

    private boolean more() { return pos < cps.length; }

    private int peek() { return cps[pos]; }

    private boolean eat(int c) {
        if (more() && cps[pos] == c) {
            pos++;
            return true;
        }
        return false;
    }

    private Expr alternation(boolean top) {
        List<Expr> options = new ArrayList<>();
        do options.add(sequence(top)); while (eat('|'));
        return Expr.alt(options);
    }

    private Expr sequence(boolean top) {
        List<Expr> items = new ArrayList<>();
        int start = pos;
        while (more() && peek() != '|' && peek() != ')') {
            if (peek() == '^') {
                if (!top || pos != start) throw error("'^' is supported only at the start of the pattern");
                pos++;
                continue;
            }
            if (peek() == '$') {
                pos++;
                if (!top || (more() && peek() != '|')) throw error("'$' is supported only at the end of the pattern");
                continue;
            }
            items.add(quantified(atom()));
        }
        return Expr.seq(items);
    }

    private Expr quantified(Expr atom) {
        while (more()) {
            int min, max;
            int c = peek();
            if (c == '*') { min = 0; max = -1; pos++; }
            else if (c == '+') { min = 1; max = -1; pos++; }
            else if (c == '?') { min = 0; max = 1; pos++; }
            else if (c == '{' && isCount()) {
                pos++;
                min = number(0);
                max = min;
                if (eat(',')) max = more() && peek() == '}' ? -1 : number(-1);
                if (!eat('}')) throw error("expected '}'");
                if (max >= 0 && max < min) throw error("{" + min + "," + max + "}: the maximum is below the minimum");
                if (min > MAX_REPEAT || max > MAX_REPEAT) throw error("repetition counts above " + MAX_REPEAT + " are not supported");
            } else {
                return atom;
            }
            if (eat('+')) throw error("possessive quantifiers are not supported");
            eat('?'); // lazy or greedy: the same set of outputs
            atom = new Expr.Repeat(atom, min, max);
        }
        return atom;
    }

    /** "{" starts a counted repetition only as {n}, {n,}, {n,m} or {,m}; otherwise it is a literal. */
    private boolean isCount() {
        int i = pos + 1;
        boolean digits = false;
        while (i < cps.length && Character.isDigit(cps[i])) { i++; digits = true; }
        if (i < cps.length && cps[i] == ',') {
            i++;
            while (i < cps.length && Character.isDigit(cps[i])) { i++; digits = true; }
        }
        return digits && i < cps.length && cps[i] == '}';
    }

    private int number(int ifNone) {
        int start = pos;
        long v = 0;
        while (more() && Character.isDigit(peek())) v = Math.min(Integer.MAX_VALUE, v * 10 + (cps[pos++] - '0'));
        return pos == start ? ifNone : (int) v;
    }

    private Expr atom() {
        int c = cps[pos++];
        switch (c) {
            case '(' -> {
                if (eat('?')) {
                    int c1 = more() ? peek() : -1, c2 = pos + 1 < cps.length ? cps[pos + 1] : -1;
                    if (c1 == ':') {
                        pos++;
                    } else if ((c1 == 'P' && c2 == '<') || (c1 == '<' && c2 != '=' && c2 != '!')) {
                        while (more() && peek() != '>') pos++; // a named group: the name does not matter
                        if (!eat('>')) throw error("unterminated group name");
                    } else if (c1 == '=' || c1 == '!' || c1 == '<') {
                        throw error("lookaround assertions are not supported");
                    } else {
                        throw error("inline flags and other (?...) groups are not supported");
                    }
                }
                Expr inner = alternation(false);
                if (!eat(')')) throw error("missing ')'");
                return inner;
            }
            case '[' -> { return Expr.chars(charClass()); }
            case '.' -> { return Expr.chars(CodePointSet.ofChars("\n").complement()); }
            case '\\' -> { return escape(false); }
            case '*', '+', '?' -> throw error("nothing to repeat before '" + Character.toString(c) + "'");
            default -> { return Expr.chars(CodePointSet.of(c, c)); }
        }
    }

    private CodePointSet charClass() {
        boolean negate = eat('^');
        CodePointSet set = CodePointSet.EMPTY;
        boolean first = true;
        while (true) {
            if (!more()) throw error("unterminated character class");
            if (peek() == ']' && !first) { pos++; break; }
            first = false;
            CodePointSet item;
            int lo;
            int c = cps[pos++];
            if (c == '\\') {
                Expr e = escape(true);
                CodePointSet s = ((Expr.Chars) e).set();
                if (s.numRanges() != 1 || s.lo(0) != s.hi(0)) { set = set.union(s); continue; }
                lo = s.lo(0);
            } else if (c == '[' && more() && peek() == ':') {
                throw error("POSIX classes like [:alpha:] are not supported");
            } else {
                lo = c;
            }
            if (more() && peek() == '-' && pos + 1 < cps.length && cps[pos + 1] != ']') {
                pos++;
                int hc = cps[pos++];
                int hi;
                if (hc == '\\') {
                    CodePointSet s = ((Expr.Chars) escape(true)).set();
                    if (s.numRanges() != 1 || s.lo(0) != s.hi(0)) throw error("a class like \\d cannot end a range");
                    hi = s.lo(0);
                } else {
                    hi = hc;
                }
                if (hi < lo) throw error("range out of order");
                item = CodePointSet.of(lo, hi);
            } else {
                item = CodePointSet.of(lo, lo);
            }
            set = set.union(item);
        }
        return negate ? set.complement() : set;
    }

    /** After a backslash: a class escape, a control escape, a code point, or an escaped literal. */
    private Expr escape(boolean inClass) {
        if (!more()) throw error("trailing backslash");
        int c = cps[pos++];
        CodePointSet s = switch (c) {
            case 'd' -> DIGIT;
            case 'D' -> DIGIT.complement();
            case 'w' -> WORD;
            case 'W' -> WORD.complement();
            case 's' -> SPACE;
            case 'S' -> SPACE.complement();
            case 'n' -> single('\n');
            case 't' -> single('\t');
            case 'r' -> single('\r');
            case 'f' -> single('\f');
            case 'v' -> single(0x0B);
            case '0' -> single(0);
            case 'a' -> single(7);
            case 'e' -> single(0x1B);
            case 'x' -> single(hex(2));
            case 'u' -> {
                if (eat('{')) {
                    int start = pos;
                    while (more() && peek() != '}') pos++;
                    int v = parseHex(src.substring(src.offsetByCodePoints(0, start), src.offsetByCodePoints(0, pos)));
                    eat('}');
                    yield single(v);
                }
                yield single(hex(4));
            }
            case 'U' -> single(hex(8));
            case 'b' -> {
                if (inClass) yield single(8);
                throw error("word boundaries (\\b) are not supported");
            }
            case 'B', 'A', 'Z', 'z', 'G' -> throw error("the assertion \\" + Character.toString(c) + " is not supported");
            case 'p', 'P' -> throw error("Unicode property classes (\\p{...}) are not supported");
            default -> {
                if (c >= '1' && c <= '9') throw error("backreferences are not supported");
                if (Character.isLetterOrDigit(c)) throw error("unknown escape \\" + Character.toString(c));
                yield single(c);
            }
        };
        return Expr.chars(s);
    }

    private static CodePointSet single(int c) { return CodePointSet.of(c, c); }

    private int hex(int n) {
        if (pos + n > cps.length) throw error("expected " + n + " hex digits");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.appendCodePoint(cps[pos++]);
        return parseHex(sb.toString());
    }

    private int parseHex(String h) {
        try {
            int v = Integer.parseInt(h, 16);
            if (v > CodePointSet.MAX || (v >= 0xD800 && v <= 0xDFFF)) throw error("\\u" + h + " is not a Unicode scalar value");
            return v;
        } catch (NumberFormatException e) {
            throw error("bad hex digits '" + h + "'");
        }
    }
}
