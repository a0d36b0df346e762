package dev.pdserve.structured;

import java.util.List;

/**
 * A constraint compiled to a pushdown automaton over bytes: one deterministic automaton per
 * recursive rule (the root's automaton holds every non-recursive rule inlined), whose states may
 * call another automaton and continue at a return state when it accepts. A parse position is a
 * stack of {@link Frame}s; a set of them (a configuration) covers ambiguity.
 */
final class Automaton {
    final int numStates;
    final int numClasses;
    /** Byte to byte class: bytes in one class behave the same everywhere in this automaton. */
    final int[] classOf;
    /** {@code next[state * numClasses + class]}, or -1. */
    final int[] next;
    final boolean[] accepting;
    /** Per state, pairs {calleeStart, returnState}, or null when the state calls nothing. */
    final int[][] calls;
    /** Which rule automaton a state belongs to, and whether that automaton is ever called. */
    final int[] owner;
    final boolean[] called;
    final int root;
    final List<String> ruleNames;

    Automaton(int numClasses, int[] classOf, int[] next, boolean[] accepting, int[][] calls, int[] owner, boolean[] called,
              int root, List<String> ruleNames) {
        this.numStates = accepting.length;
        this.numClasses = numClasses;
        this.classOf = classOf;
        this.next = next;
        this.accepting = accepting;
        this.calls = calls;
        this.owner = owner;
        this.called = called;
        this.root = root;
        this.ruleNames = ruleNames;
    }

    int next(int state, int b) { return next[state * numClasses + classOf[b & 0xFF]]; }

    /** True when frames of this state can be popped by bytes of a token (its rule is called by others). */
    boolean canReturn(int state) { return called[owner[state]]; }

    /**
     * Advances every frame of {@code from} over byte {@code b} into {@code out} (deduplicated).
     * Frames push callees and pop accepted rules on the way. Returns true when a pop reached
     * {@code floor}: the byte would then be read by whatever lies below it.
     */
    boolean step(List<Frame> from, int b, List<Frame> out, Frame floor) {
        boolean escaped = false;
        for (Frame f : from) escaped |= advance(f, b, out, floor, false);
        return escaped;
    }

    private boolean advance(Frame f, int b, List<Frame> out, Frame floor, boolean justPushed) {
        int s = f.state;
        boolean escaped = false;
        int t = next(s, b);
        if (t >= 0) add(out, f.below == floor && floor != null ? floor.above(t) : new Frame(t, f.below));
        int[] c = calls[s];
        if (c != null) {
            for (int i = 0; i < c.length; i += 2) escaped |= advance(new Frame(c[i], new Frame(c[i + 1], f.below)), b, out, floor, true);
        }
        // A callee's start state accepting means the rule is nullable; that case is folded into the
        // caller as an epsilon move already, so popping right after the push would only repeat it.
        if (accepting[s] && !justPushed && f.below != null) {
            if (f.below == floor) escaped = true;
            else escaped |= advance(f.below, b, out, floor, false);
        }
        return escaped;
    }

    private static void add(List<Frame> out, Frame f) {
        for (Frame g : out) if (g.equals(f)) return;
        out.add(f);
    }

    /** The stack can be popped all the way down: the output so far is a complete match. */
    boolean complete(Frame f) {
        for (; f != null; f = f.below) if (!accepting[f.state]) return false;
        return true;
    }
}
