package dev.pdserve.structured;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * An independent check of the automaton: does a text match a {@link Grammar}? Straight from the
 * expressions, by sets of end positions over the text's code points (memoised per rule and
 * position), with no automaton in between. Fine for test-sized texts and grammars without left
 * recursion.
 */
final class ReferenceRecognizer {
    private final Grammar grammar;
    private final int[] text;
    private final Map<String, Set<Integer>> memo = new HashMap<>();

    private ReferenceRecognizer(Grammar grammar, String text) {
        this.grammar = grammar;
        this.text = text.codePoints().toArray();
    }

    static boolean matches(Grammar g, String text) {
        ReferenceRecognizer r = new ReferenceRecognizer(g, text);
        return r.ends(new Expr.Ref(g.root()), 0).contains(r.text.length);
    }

    private Set<Integer> ends(Expr e, int pos) {
        return switch (e) {
            case Expr.Literal l -> {
                int[] cps = l.text().codePoints().toArray();
                if (pos + cps.length > text.length) yield Set.of();
                for (int i = 0; i < cps.length; i++) if (text[pos + i] != cps[i]) yield Set.of();
                yield Set.of(pos + cps.length);
            }
            case Expr.Chars c -> pos < text.length && c.set().contains(text[pos]) ? Set.of(pos + 1) : Set.of();
            case Expr.Seq s -> {
                Set<Integer> cur = Set.of(pos);
                for (Expr item : s.items()) {
                    Set<Integer> next = new TreeSet<>();
                    for (int p : cur) next.addAll(ends(item, p));
                    cur = next;
                    if (cur.isEmpty()) break;
                }
                yield cur;
            }
            case Expr.Alt a -> {
                Set<Integer> out = new TreeSet<>();
                for (Expr o : a.options()) out.addAll(ends(o, pos));
                yield out;
            }
            case Expr.Repeat r -> {
                Set<Integer> out = new TreeSet<>();
                Set<Integer> cur = Set.of(pos);
                Set<Integer> seen = new HashSet<>();
                for (int k = 0; !cur.isEmpty() && (r.max() < 0 || k <= r.max()); k++) {
                    if (k >= r.min()) out.addAll(cur);
                    Set<Integer> next = new TreeSet<>();
                    for (int p : cur) next.addAll(ends(r.body(), p));
                    if (r.max() < 0 && k >= r.min()) { next.removeAll(seen); seen.addAll(cur); }
                    cur = next;
                }
                yield out;
            }
            case Expr.Ref ref -> {
                String key = ref.rule() + "@" + pos;
                Set<Integer> m = memo.get(key);
                if (m == null) {
                    memo.put(key, Set.of()); // no left recursion in test grammars
                    m = ends(grammar.rules().get(ref.rule()), pos);
                    memo.put(key, m);
                }
                yield m;
            }
        };
    }
}
