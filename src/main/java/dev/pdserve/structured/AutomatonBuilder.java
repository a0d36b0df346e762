package dev.pdserve.structured;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiles a {@link Grammar} into an {@link Automaton}. Rules are inlined into their caller, built
 * right to left so that a rule referenced in tail position with the same continuation is built
 * once (tail recursion becomes a loop, and shared suffixes stay shared); only a rule that refers to
 * itself in a non-tail position becomes a separately called automaton. Each automaton is then made
 * deterministic over byte classes, trimmed of states that cannot finish, and minimised.
 */
final class AutomatonBuilder {
    static final int MAX_NFA_STATES = 2_000_000;
    static final int MAX_DFA_STATES = 300_000;

    private final Grammar grammar;
    private final Map<String, Boolean> nullable = new HashMap<>();

    private AutomatonBuilder(Grammar grammar) { this.grammar = grammar; }

    static Automaton build(Grammar g) { return new AutomatonBuilder(g).build(); }

    /** Thrown while inlining when a rule turns out to need its own automaton; the build restarts. */
    private static final class NeedsCall extends RuntimeException {
        final String rule;

        NeedsCall(String rule) {
            super(null, null, false, false);
            this.rule = rule;
        }
    }

    private Automaton build() {
        checkRefs();
        computeNullable();
        List<String> targets = new ArrayList<>(List.of(grammar.root()));
        while (true) {
            try {
                return new Build(targets).run();
            } catch (NeedsCall e) {
                targets.add(e.rule);
            }
        }
    }

    private void checkRefs() {
        for (Map.Entry<String, Expr> r : grammar.rules().entrySet()) {
            visit(r.getValue(), e -> {
                if (e instanceof Expr.Ref ref && !grammar.rules().containsKey(ref.rule())) {
                    throw new ConstraintException("rule '" + ref.rule() + "' is used in rule '" + r.getKey() + "' but never defined");
                }
            });
        }
    }

    private static void visit(Expr e, java.util.function.Consumer<Expr> f) {
        f.accept(e);
        switch (e) {
            case Expr.Seq s -> s.items().forEach(x -> visit(x, f));
            case Expr.Alt a -> a.options().forEach(x -> visit(x, f));
            case Expr.Repeat r -> visit(r.body(), f);
            default -> { }
        }
    }

    private void computeNullable() {
        grammar.rules().keySet().forEach(r -> nullable.put(r, false));
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Map.Entry<String, Expr> r : grammar.rules().entrySet()) {
                if (!nullable.get(r.getKey()) && nullable(r.getValue())) {
                    nullable.put(r.getKey(), true);
                    changed = true;
                }
            }
        }
    }

    private boolean nullable(Expr e) {
        return switch (e) {
            case Expr.Literal l -> l.text().isEmpty();
            case Expr.Chars c -> false;
            case Expr.Seq s -> s.items().stream().allMatch(this::nullable);
            case Expr.Alt a -> a.options().stream().anyMatch(this::nullable);
            case Expr.Repeat r -> r.min() == 0 || nullable(r.body());
            case Expr.Ref r -> nullable.get(r.rule());
        };
    }

    /** One attempt with a fixed set of called rules. */
    private final class Build {
        private final List<String> targets;
        private final Nfa nfa = new Nfa();
        private final List<String> built = new ArrayList<>();
        private final Map<String, Integer> startOf = new LinkedHashMap<>();
        private final Map<String, Integer> acceptOf = new HashMap<>();
        private final ArrayDeque<String> todo = new ArrayDeque<>();

        Build(List<String> targets) { this.targets = targets; }

        Automaton run() {
            want(grammar.root());
            while (!todo.isEmpty()) {
                String rule = todo.poll();
                int accept = nfa.newState();
                Map<MemoKey, Integer> memo = new HashMap<>();
                int start = expand(new Expr.Ref(rule), accept, memo, new HashMap<>(), true);
                startOf.put(rule, start);
                acceptOf.put(rule, accept);
            }
            return determinize();
        }

        private int want(String rule) {
            int idx = built.indexOf(rule);
            if (idx < 0) {
                built.add(rule);
                todo.add(rule);
                idx = built.size() - 1;
            }
            return idx;
        }

        /** Builds {@code e} followed by state {@code k}; returns the start state. */
        private int expand(Expr e, int k, Map<MemoKey, Integer> memo, Map<String, Integer> inProgress, boolean top) {
            return switch (e) {
                case Expr.Literal l -> {
                    byte[] bytes = l.text().getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    int cur = k;
                    for (int i = bytes.length - 1; i >= 0; i--) {
                        int s = nfa.newState();
                        nfa.bytes(s, bytes[i] & 0xFF, bytes[i] & 0xFF, cur);
                        cur = s;
                    }
                    yield cur;
                }
                case Expr.Chars c -> {
                    int s = nfa.newState();
                    for (int[] seq : c.set().utf8Sequences()) {
                        int cur = k;
                        for (int i = seq.length / 2 - 1; i >= 1; i--) {
                            int t = nfa.newState();
                            nfa.bytes(t, seq[2 * i], seq[2 * i + 1], cur);
                            cur = t;
                        }
                        nfa.bytes(s, seq[0], seq[1], cur);
                    }
                    yield s;
                }
                case Expr.Seq s -> {
                    int cur = k;
                    for (int i = s.items().size() - 1; i >= 0; i--) cur = expand(s.items().get(i), cur, memo, inProgress, false);
                    yield cur;
                }
                case Expr.Alt a -> {
                    int s = nfa.newState();
                    for (Expr o : a.options()) nfa.eps(s, expand(o, k, memo, inProgress, false));
                    yield s;
                }
                case Expr.Repeat r -> repeat(r, k, memo, inProgress);
                case Expr.Ref ref -> {
                    String rule = ref.rule();
                    MemoKey key = new MemoKey(rule, k);
                    Integer hub = memo.get(key);
                    if (hub != null) yield hub; // the same rule before the same continuation: shared (a loop when recursive)
                    if (!top && targets.contains(rule)) {
                        int s = nfa.newState();
                        nfa.call(s, want(rule), k);
                        if (nullable.get(rule)) nfa.eps(s, k);
                        yield s;
                    }
                    Integer open = inProgress.get(rule);
                    if (open != null && open != k) throw new NeedsCall(rule);
                    int h = nfa.newState();
                    memo.put(key, h);
                    inProgress.put(rule, k);
                    nfa.eps(h, expand(grammar.rules().get(rule), k, memo, inProgress, false));
                    inProgress.remove(rule);
                    yield h;
                }
            };
        }

        private int repeat(Expr.Repeat r, int k, Map<MemoKey, Integer> memo, Map<String, Integer> inProgress) {
            int cur;
            if (r.max() < 0) {
                int loop = nfa.newState();
                nfa.eps(loop, k);
                nfa.eps(loop, expand(r.body(), loop, memo, inProgress, false));
                cur = loop;
            } else {
                if (r.max() < r.min()) return nfa.newState(); // matches nothing
                cur = k;
                for (int i = 0; i < r.max() - r.min(); i++) {
                    int s = nfa.newState();
                    nfa.eps(s, k);
                    nfa.eps(s, expand(r.body(), cur, memo, inProgress, false));
                    cur = s;
                }
            }
            for (int i = 0; i < r.min(); i++) cur = expand(r.body(), cur, memo, inProgress, false);
            return cur;
        }

        private Automaton determinize() {
            // Byte classes: cut 0..255 at every edge boundary of every rule.
            boolean[] cut = new boolean[257];
            cut[0] = cut[256] = true;
            nfa.forEachByteEdge((lo, hi) -> { cut[lo] = true; cut[hi + 1] = true; });
            int[] classOf = new int[256];
            int numClasses = 0;
            int[] rep = new int[256];
            for (int b = 0; b < 256; b++) {
                if (cut[b]) rep[numClasses++] = b;
                classOf[b] = numClasses - 1;
            }
            int n = built.size();
            Dfa[] dfas = new Dfa[n];
            int total = 0;
            for (int a = 0; a < n; a++) {
                dfas[a] = Dfa.subset(nfa, startOf.get(built.get(a)), acceptOf.get(built.get(a)), classOf, numClasses, MAX_DFA_STATES - total);
                total += dfas[a].size();
            }
            return Dfa.link(dfas, built, classOf, numClasses);
        }
    }

    /** The nondeterministic automaton being built: epsilon, byte-range and call edges per state. */
    static final class Nfa {
        final List<IntList> eps = new ArrayList<>();
        final List<IntList> byteEdges = new ArrayList<>(); // triples lo, hi, target
        final List<IntList> callEdges = new ArrayList<>(); // pairs automaton, target

        int newState() {
            if (eps.size() >= MAX_NFA_STATES) {
                throw new ConstraintException("the constraint is too large to compile (over " + MAX_NFA_STATES
                        + " automaton states): use smaller repetition counts, length bounds or fewer alternatives");
            }
            eps.add(null);
            byteEdges.add(null);
            callEdges.add(null);
            return eps.size() - 1;
        }

        int size() { return eps.size(); }

        void eps(int s, int t) { list(eps, s).add(t); }

        void bytes(int s, int lo, int hi, int t) {
            IntList l = list(byteEdges, s);
            l.add(lo);
            l.add(hi);
            l.add(t);
        }

        void call(int s, int automaton, int t) {
            IntList l = list(callEdges, s);
            l.add(automaton);
            l.add(t);
        }

        void forEachByteEdge(java.util.function.BiConsumer<Integer, Integer> f) {
            for (IntList l : byteEdges) if (l != null) for (int i = 0; i < l.size(); i += 3) f.accept(l.get(i), l.get(i + 1));
        }

        private static IntList list(List<IntList> lists, int s) {
            IntList l = lists.get(s);
            if (l == null) lists.set(s, l = new IntList());
            return l;
        }
    }

    private record MemoKey(String rule, int continuation) {}

    /** Sorted, duplicate-free NFA state sets as DFA state keys. */
    record StateSet(int[] states) {
        @Override
        public boolean equals(Object o) { return o instanceof StateSet s && Arrays.equals(states, s.states); }

        @Override
        public int hashCode() { return Arrays.hashCode(states); }
    }
}
