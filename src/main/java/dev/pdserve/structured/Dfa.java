package dev.pdserve.structured;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** One rule's deterministic automaton while it is built: local state ids, state 0 the start. */
final class Dfa {
    final int numClasses;
    int size;
    int[] next;
    boolean[] accepting;
    /** Per state, pairs {callee automaton, local return state}, or null. */
    int[][] calls;

    private Dfa(int numClasses, int size, int[] next, boolean[] accepting, int[][] calls) {
        this.numClasses = numClasses;
        this.size = size;
        this.next = next;
        this.accepting = accepting;
        this.calls = calls;
    }

    int size() { return size; }

    /** Subset construction from an NFA's {@code start}; {@code accept} is its accepting state. */
    static Dfa subset(AutomatonBuilder.Nfa nfa, int start, int accept, int[] classOf, int numClasses, int budget) {
        Closure closure = new Closure(nfa);
        Map<AutomatonBuilder.StateSet, Integer> ids = new HashMap<>();
        List<int[]> sets = new ArrayList<>();
        IntList next = new IntList();
        List<int[]> calls = new ArrayList<>();
        int[] first = closure.of(new int[] {start});
        ids.put(new AutomatonBuilder.StateSet(first), 0);
        sets.add(first);
        IntList[] byClass = new IntList[numClasses];
        for (int c = 0; c < numClasses; c++) byClass[c] = new IntList();
        for (int d = 0; d < sets.size(); d++) {
            if (sets.size() > budget) {
                throw new ConstraintException("the constraint is too large to compile (over " + AutomatonBuilder.MAX_DFA_STATES
                        + " deterministic states): simplify the pattern or schema");
            }
            int[] set = sets.get(d);
            for (IntList l : byClass) l.clear();
            TreeMap<Integer, IntList> byCallee = new TreeMap<>();
            for (int s : set) {
                IntList be = nfa.byteEdges.get(s);
                if (be != null) {
                    for (int i = 0; i < be.size(); i += 3) {
                        for (int c = classOf[be.get(i)]; c <= classOf[be.get(i + 1)]; c++) byClass[c].add(be.get(i + 2));
                    }
                }
                IntList ce = nfa.callEdges.get(s);
                if (ce != null) for (int i = 0; i < ce.size(); i += 2) byCallee.computeIfAbsent(ce.get(i), k -> new IntList()).add(ce.get(i + 1));
            }
            for (int c = 0; c < numClasses; c++) next.add(byClass[c].size() == 0 ? -1 : idOf(closure.of(byClass[c].toArray()), ids, sets));
            if (byCallee.isEmpty()) {
                calls.add(null);
            } else {
                int[] pairs = new int[2 * byCallee.size()];
                int i = 0;
                for (Map.Entry<Integer, IntList> e : byCallee.entrySet()) {
                    pairs[i++] = e.getKey();
                    pairs[i++] = idOf(closure.of(e.getValue().toArray()), ids, sets);
                }
                calls.add(pairs);
            }
        }
        boolean[] accepting = new boolean[sets.size()];
        for (int d = 0; d < sets.size(); d++) accepting[d] = Arrays.binarySearch(sets.get(d), accept) >= 0;
        return new Dfa(numClasses, sets.size(), next.toArray(), accepting, calls.toArray(new int[0][]));
    }

    private static int idOf(int[] set, Map<AutomatonBuilder.StateSet, Integer> ids, List<int[]> sets) {
        return ids.computeIfAbsent(new AutomatonBuilder.StateSet(set), k -> {
            sets.add(set);
            return sets.size() - 1;
        });
    }

    /** Epsilon closures, sorted. */
    private static final class Closure {
        private final AutomatonBuilder.Nfa nfa;
        private final int[] mark;
        private int stamp;
        private final IntList stack = new IntList();

        Closure(AutomatonBuilder.Nfa nfa) {
            this.nfa = nfa;
            this.mark = new int[nfa.size()];
        }

        int[] of(int[] seeds) {
            stamp++;
            IntList out = new IntList();
            stack.clear();
            for (int s : seeds) push(s, out);
            while (stack.size() > 0) {
                int s = pop();
                IntList e = nfa.eps.get(s);
                if (e != null) for (int i = 0; i < e.size(); i++) push(e.get(i), out);
            }
            int[] a = out.toArray();
            Arrays.sort(a);
            return a;
        }

        private void push(int s, IntList out) {
            if (mark[s] == stamp) return;
            mark[s] = stamp;
            out.add(s);
            stack.add(s);
        }

        private int pop() { return stack.removeLast(); }
    }

    /**
     * Trims every automaton to the states that can still finish, minimises each, checks for left
     * recursion and numbers all states globally.
     */
    static Automaton link(Dfa[] dfas, List<String> names, int[] classOf, int numClasses) {
        boolean[][] live = liveness(dfas);
        if (!live[0][0]) throw new ConstraintException("the constraint admits no output at all (its language is empty)");
        for (int a = 0; a < dfas.length; a++) dfas[a].trim(live[a], live);
        for (Dfa d : dfas) d.minimize();
        checkLeftRecursion(dfas, names);
        int[] offset = new int[dfas.length + 1];
        for (int a = 0; a < dfas.length; a++) offset[a + 1] = offset[a] + dfas[a].size;
        int total = offset[dfas.length];
        int[] next = new int[total * numClasses];
        boolean[] accepting = new boolean[total];
        int[][] calls = new int[total][];
        int[] owner = new int[total];
        boolean[] called = new boolean[dfas.length];
        for (int a = 0; a < dfas.length; a++) {
            Dfa d = dfas[a];
            for (int s = 0; s < d.size; s++) {
                int g = offset[a] + s;
                owner[g] = a;
                accepting[g] = d.accepting[s];
                for (int c = 0; c < numClasses; c++) {
                    int t = d.next[s * numClasses + c];
                    next[g * numClasses + c] = t < 0 ? -1 : offset[a] + t;
                }
                if (d.calls[s] != null) {
                    int[] p = d.calls[s].clone();
                    for (int i = 0; i < p.length; i += 2) {
                        called[p[i]] = true;
                        p[i] = offset[p[i]];
                        p[i + 1] += offset[a];
                    }
                    calls[g] = p;
                }
            }
        }
        return new Automaton(numClasses, classOf, next, accepting, calls, owner, called, 0, List.copyOf(names));
    }

    /** live[a][s]: from state s of automaton a some path (bytes, and calls of live rules) reaches acceptance. */
    private static boolean[][] liveness(Dfa[] dfas) {
        int n = dfas.length;
        boolean[][] live = new boolean[n][];
        List<List<IntList>> preds = new ArrayList<>(); // per automaton, per state: byte predecessors
        List<List<IntList>> callPreds = new ArrayList<>(); // per automaton, per return state: pairs caller, callee
        List<IntList> callers = new ArrayList<>(); // per callee: triples automaton, caller, return state
        for (int a = 0; a < n; a++) callers.add(new IntList());
        for (int a = 0; a < n; a++) {
            Dfa d = dfas[a];
            live[a] = new boolean[d.size];
            List<IntList> p = new ArrayList<>(), cp = new ArrayList<>();
            for (int s = 0; s < d.size; s++) { p.add(new IntList()); cp.add(new IntList()); }
            for (int s = 0; s < d.size; s++) {
                for (int c = 0; c < d.numClasses; c++) {
                    int t = d.next[s * d.numClasses + c];
                    if (t >= 0) p.get(t).add(s);
                }
                int[] q = d.calls[s];
                if (q != null) {
                    for (int i = 0; i < q.length; i += 2) {
                        cp.get(q[i + 1]).add(s);
                        cp.get(q[i + 1]).add(q[i]);
                        callers.get(q[i]).add(a);
                        callers.get(q[i]).add(s);
                        callers.get(q[i]).add(q[i + 1]);
                    }
                }
            }
            preds.add(p);
            callPreds.add(cp);
        }
        ArrayDeque<int[]> work = new ArrayDeque<>();
        for (int a = 0; a < n; a++) {
            for (int s = 0; s < dfas[a].size; s++) {
                if (dfas[a].accepting[s]) {
                    live[a][s] = true;
                    work.add(new int[] {a, s});
                }
            }
        }
        while (!work.isEmpty()) {
            int[] w = work.poll();
            int a = w[0], t = w[1];
            IntList p = preds.get(a).get(t);
            for (int i = 0; i < p.size(); i++) mark(live, a, p.get(i), work);
            IntList cp = callPreds.get(a).get(t);
            for (int i = 0; i < cp.size(); i += 2) if (live[cp.get(i + 1)][0]) mark(live, a, cp.get(i), work);
            if (t == 0) { // this rule can now finish: its callers whose return state lives do too
                IntList c = callers.get(a);
                for (int i = 0; i < c.size(); i += 3) if (live[c.get(i)][c.get(i + 2)]) mark(live, c.get(i), c.get(i + 1), work);
            }
        }
        return live;
    }

    private static void mark(boolean[][] live, int a, int s, ArrayDeque<int[]> work) {
        if (live[a][s]) return;
        live[a][s] = true;
        work.add(new int[] {a, s});
    }

    /** Drops edges into dead states and states not reachable from the start; renumbers from 0. */
    private void trim(boolean[] liveHere, boolean[][] live) {
        int[] id = new int[size];
        Arrays.fill(id, -1);
        int[] order = new int[size];
        int n = 0;
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        if (liveHere[0]) {
            id[0] = n;
            order[n++] = 0;
            queue.add(0);
        }
        while (!queue.isEmpty()) {
            int s = queue.poll();
            List<Integer> succ = new ArrayList<>();
            for (int c = 0; c < numClasses; c++) succ.add(next[s * numClasses + c]);
            int[] p = calls[s];
            if (p != null) for (int i = 0; i < p.length; i += 2) if (live[p[i]][0]) succ.add(p[i + 1]);
            for (int t : succ) {
                if (t >= 0 && liveHere[t] && id[t] < 0) {
                    id[t] = n;
                    order[n++] = t;
                    queue.add(t);
                }
            }
        }
        int[] nn = new int[Math.max(n, 1) * numClasses];
        Arrays.fill(nn, -1);
        boolean[] acc = new boolean[Math.max(n, 1)];
        int[][] cl = new int[Math.max(n, 1)][];
        for (int i = 0; i < n; i++) {
            int s = order[i];
            acc[i] = accepting[s];
            for (int c = 0; c < numClasses; c++) {
                int t = next[s * numClasses + c];
                nn[i * numClasses + c] = t >= 0 && liveHere[t] ? id[t] : -1;
            }
            int[] p = calls[s];
            if (p != null) {
                IntList q = new IntList();
                for (int j = 0; j < p.length; j += 2) {
                    if (live[p[j]][0] && liveHere[p[j + 1]]) {
                        q.add(p[j]);
                        q.add(id[p[j + 1]]);
                    }
                }
                cl[i] = q.size() == 0 ? null : q.toArray();
            }
        }
        size = Math.max(n, 1);
        next = nn;
        accepting = acc;
        calls = cl;
    }

    /** Moore's partition refinement: states with the same future (bytes, calls, acceptance) merge. */
    private void minimize() {
        int[] block = new int[size];
        int numBlocks = 0;
        while (true) {
            Map<AutomatonBuilder.StateSet, Integer> sigs = new HashMap<>();
            int[] nb = new int[size];
            for (int s = 0; s < size; s++) {
                int[] p = calls[s];
                int[] sig = new int[2 + numClasses + (p == null ? 0 : p.length)];
                sig[0] = block[s];
                sig[1] = accepting[s] ? 1 : 0;
                for (int c = 0; c < numClasses; c++) {
                    int t = next[s * numClasses + c];
                    sig[2 + c] = t < 0 ? -1 : block[t];
                }
                if (p != null) for (int i = 0; i < p.length; i += 2) { sig[2 + numClasses + i] = p[i]; sig[3 + numClasses + i] = block[p[i + 1]]; }
                nb[s] = sigs.computeIfAbsent(new AutomatonBuilder.StateSet(sig), k -> sigs.size());
            }
            int count = sigs.size();
            block = nb;
            if (count == numBlocks) break;
            numBlocks = count;
        }
        // Renumber so the start's block is 0, in first-seen order.
        int[] id = new int[numBlocks];
        Arrays.fill(id, -1);
        int n = 0;
        id[block[0]] = n++;
        for (int s = 1; s < size; s++) if (id[block[s]] < 0) id[block[s]] = n++;
        int[] nn = new int[numBlocks * numClasses];
        boolean[] acc = new boolean[numBlocks];
        int[][] cl = new int[numBlocks][];
        for (int s = 0; s < size; s++) {
            int b = id[block[s]];
            acc[b] = accepting[s];
            for (int c = 0; c < numClasses; c++) {
                int t = next[s * numClasses + c];
                nn[b * numClasses + c] = t < 0 ? -1 : id[block[t]];
            }
            int[] p = calls[s];
            if (p != null) {
                int[] q = p.clone();
                for (int i = 1; i < q.length; i += 2) q[i] = id[block[q[i]]];
                cl[b] = q;
            }
        }
        size = numBlocks;
        next = nn;
        accepting = acc;
        calls = cl;
    }

    /** A rule that can call itself before reading a byte would push frames forever. */
    private static void checkLeftRecursion(Dfa[] dfas, List<String> names) {
        int[] color = new int[dfas.length];
        for (int a = 0; a < dfas.length; a++) leftDfs(a, dfas, names, color);
    }

    private static void leftDfs(int a, Dfa[] dfas, List<String> names, int[] color) {
        if (color[a] == 2) return;
        if (color[a] == 1) throw new ConstraintException("rule '" + names.get(a) + "' is left-recursive: it can refer to itself before reading any text");
        color[a] = 1;
        int[] p = dfas[a].calls[0];
        if (p != null) for (int i = 0; i < p.length; i += 2) leftDfs(p[i], dfas, names, color);
        color[a] = 2;
    }
}
