package dev.pdserve.structured;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The pieces of JSON text as grammar expressions: characters of strings (escaped), numbers. */
final class JsonText {
    private JsonText() {}

    static final CodePointSet CONTROL = CodePointSet.of(0, 0x1F);
    static final CodePointSet SPECIAL = CONTROL.union(CodePointSet.ofChars("\"\\"));
    static final CodePointSet HEX = CodePointSet.ofChars("0123456789abcdefABCDEF");
    private static final Expr DIGIT = Expr.chars(RegexParser.DIGIT);
    /** Digits allowed in an integer part, a fraction and an exponent: an output never spins on digits forever. */
    static final int MAX_DIGITS = 16;
    static final long MAX_INTEGER = 9_999_999_999_999_999L;

    /** The JSON text of a string's content: how a program would escape it (Jackson's canonical escapes). */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(c -> sb.append(escapeCode(c)));
        return sb.toString();
    }

    static String quote(String s) { return '"' + escape(s) + '"'; }

    private static String escapeCode(int c) {
        return switch (c) {
            case '"' -> "\\\"";
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            case '\b' -> "\\b";
            case '\f' -> "\\f";
            default -> c < 0x20 ? String.format("\\u%04x", c) : Character.toString(c);
        };
    }

    /** One character of {@code set} inside a JSON string, in its canonical (only) spelling. */
    static Expr canonicalChar(CodePointSet set) {
        List<Expr> options = new ArrayList<>();
        CodePointSet plain = set.minus(SPECIAL);
        if (!plain.isEmpty()) options.add(Expr.chars(plain));
        CodePointSet special = set.intersect(SPECIAL);
        for (int i = 0; i < special.numRanges(); i++) {
            for (int c = special.lo(i); c <= special.hi(i); c++) options.add(Expr.lit(escapeCode(c)));
        }
        return Expr.alt(options);
    }

    /** Any one character of a JSON string, in any spelling JSON allows (no lone surrogates). */
    static Expr anyChar() {
        CodePointSet hexNoD = HEX.minus(CodePointSet.ofChars("dD"));
        Expr nonSurrogate = Expr.alt(
                Expr.seq(Expr.chars(hexNoD), Expr.chars(HEX), Expr.chars(HEX), Expr.chars(HEX)),
                Expr.seq(Expr.chars(CodePointSet.ofChars("dD")), Expr.chars(CodePointSet.of('0', '7')), Expr.chars(HEX), Expr.chars(HEX)));
        return Expr.alt(
                Expr.chars(CodePointSet.ALL.minus(SPECIAL)),
                Expr.seq(Expr.lit("\\"), Expr.chars(CodePointSet.ofChars("\"\\/bfnrt"))),
                Expr.seq(Expr.lit("\\u"), nonSurrogate));
    }

    /** A regex over string content turned into one over the content's JSON text. */
    static Expr escaped(Expr e) {
        return switch (e) {
            case Expr.Literal l -> Expr.lit(escape(l.text()));
            case Expr.Chars c -> canonicalChar(c.set());
            case Expr.Seq s -> new Expr.Seq(s.items().stream().map(JsonText::escaped).toList());
            case Expr.Alt a -> new Expr.Alt(a.options().stream().map(JsonText::escaped).toList());
            case Expr.Repeat r -> new Expr.Repeat(escaped(r.body()), r.min(), r.max());
            case Expr.Ref r -> throw new IllegalStateException("a pattern has no rule references");
        };
    }

    /**
     * String content (canonical spelling) that is none of {@code names}: used for the keys of
     * additional properties, so they never repeat a declared one.
     */
    static Expr contentNotIn(List<String> names) {
        Node root = new Node();
        for (String n : names) {
            Node cur = root;
            for (int c : n.codePoints().toArray()) cur = cur.children.computeIfAbsent(c, k -> new Node());
            cur.terminal = true;
        }
        return notIn(root);
    }

    private static final class Node {
        final Map<Integer, Node> children = new TreeMap<>();
        boolean terminal;
    }

    private static Expr notIn(Node node) {
        List<Expr> options = new ArrayList<>();
        if (!node.terminal) options.add(Expr.EMPTY);
        CodePointSet others = CodePointSet.ALL;
        for (Map.Entry<Integer, Node> e : node.children.entrySet()) {
            int c = e.getKey();
            others = others.minus(CodePointSet.of(c, c));
            options.add(Expr.seq(Expr.lit(escapeCode(c)), notIn(e.getValue())));
        }
        options.add(Expr.seq(canonicalChar(others), Expr.star(canonicalChar(CodePointSet.ALL))));
        return Expr.alt(options);
    }

    /** Decimal integers in [lo, hi] (both non-negative, at most {@link #MAX_INTEGER}), no leading zeros. */
    static Expr naturals(long lo, long hi) {
        List<Expr> parts = new ArrayList<>();
        for (int len = digits(lo); len <= digits(hi); len++) {
            long a = Math.max(lo, len == 1 ? 0 : pow10(len - 1)), b = Math.min(hi, pow10(len) - 1);
            if (a <= b) parts.add(sameLength(Long.toString(a), Long.toString(b)));
        }
        return Expr.alt(parts);
    }

    private static Expr sameLength(String x, String y) {
        int n = x.length();
        if (x.equals(y)) return Expr.lit(x);
        if (x.substring(1).chars().allMatch(c -> c == '0') && y.substring(1).chars().allMatch(c -> c == '9')) {
            return Expr.seq(Expr.chars(CodePointSet.of(x.charAt(0), y.charAt(0))), new Expr.Repeat(DIGIT, n - 1, n - 1));
        }
        if (x.charAt(0) == y.charAt(0)) return Expr.seq(Expr.lit(x.substring(0, 1)), sameLength(x.substring(1), y.substring(1)));
        List<Expr> parts = new ArrayList<>();
        parts.add(Expr.seq(Expr.lit(x.substring(0, 1)), sameLength(x.substring(1), "9".repeat(n - 1))));
        if (x.charAt(0) + 1 <= y.charAt(0) - 1) {
            parts.add(Expr.seq(Expr.chars(CodePointSet.of(x.charAt(0) + 1, y.charAt(0) - 1)), new Expr.Repeat(DIGIT, n - 1, n - 1)));
        }
        parts.add(Expr.seq(Expr.lit(y.substring(0, 1)), sameLength("0".repeat(n - 1), y.substring(1))));
        return Expr.alt(parts);
    }

    private static int digits(long v) { return Long.toString(v).length(); }

    private static long pow10(int n) {
        long p = 1;
        for (int i = 0; i < n; i++) p *= 10;
        return p;
    }

    /** Integers in [lo, hi]; null bounds are open. */
    static Expr integers(Long lo, Long hi) {
        long min = lo == null ? -MAX_INTEGER : Math.max(lo, -MAX_INTEGER), max = hi == null ? MAX_INTEGER : Math.min(hi, MAX_INTEGER);
        List<Expr> parts = new ArrayList<>();
        if (min < 0) parts.add(Expr.seq(Expr.lit("-"), naturals(Math.max(1, -max), -min)));
        if (max >= 0) parts.add(naturals(Math.max(0, min), max));
        return Expr.alt(parts);
    }

    private static final Expr FRACTION = Expr.seq(Expr.lit("."), new Expr.Repeat(DIGIT, 1, MAX_DIGITS));
    private static final Expr NONZERO_FRACTION = Expr.seq(Expr.lit("."), new Expr.Repeat(DIGIT, 0, MAX_DIGITS - 1),
            Expr.chars(CodePointSet.of('1', '9')), new Expr.Repeat(DIGIT, 0, MAX_DIGITS - 1));
    private static final Expr ZERO_FRACTION = Expr.seq(Expr.lit("."), new Expr.Repeat(Expr.lit("0"), 1, MAX_DIGITS));

    /** Any JSON number. */
    static Expr number() {
        return Expr.seq(Expr.opt(Expr.lit("-")), naturals(0, MAX_INTEGER), Expr.opt(FRACTION),
                Expr.opt(Expr.seq(Expr.chars(CodePointSet.ofChars("eE")), Expr.opt(Expr.chars(CodePointSet.ofChars("+-"))), new Expr.Repeat(DIGIT, 1, 3))));
    }

    /** JSON numbers in a range with integer bounds (null: open), written without an exponent. */
    static Expr number(Long lo, boolean loIncl, Long hi, boolean hiIncl) {
        List<Expr> parts = new ArrayList<>();
        // v >= 0
        if (hi == null || hi > 0 || (hi == 0 && hiIncl)) {
            boolean fromZero = lo == null || lo < 0;
            parts.add(magnitude(fromZero ? 0 : lo, fromZero || loIncl, hi, hiIncl));
        }
        // v < 0, written as "-" y with y > 0
        if (lo == null || lo < 0) {
            boolean toZero = hi == null || hi >= 0;
            Expr m = magnitude(toZero ? 0 : -hi, !toZero && hiIncl, lo == null ? null : -lo, loIncl);
            parts.add(Expr.seq(Expr.lit("-"), m));
        }
        return Expr.alt(parts);
    }

    /** Non-negative decimals I(.F)? in the interval from l to h (null: open) with the given inclusivity. */
    private static Expr magnitude(long l, boolean lIncl, Long h, boolean hIncl) {
        if (l > MAX_INTEGER) return Expr.NOTHING;
        Expr atL = Expr.seq(Expr.lit(Long.toString(l)), lIncl ? Expr.opt(FRACTION) : NONZERO_FRACTION);
        if (h == null || h > MAX_INTEGER) {
            return l + 1 > MAX_INTEGER ? atL : Expr.alt(Expr.seq(naturals(l + 1, MAX_INTEGER), Expr.opt(FRACTION)), atL);
        }
        if (l == h) return lIncl && hIncl ? Expr.seq(Expr.lit(Long.toString(l)), Expr.opt(ZERO_FRACTION)) : Expr.NOTHING;
        if (l > h) return Expr.NOTHING;
        List<Expr> parts = new ArrayList<>();
        if (l + 1 <= h - 1) parts.add(Expr.seq(naturals(l + 1, h - 1), Expr.opt(FRACTION)));
        parts.add(atL);
        if (hIncl) parts.add(Expr.seq(Expr.lit(Long.toString(h)), Expr.opt(ZERO_FRACTION)));
        return Expr.alt(parts);
    }
}
