package dev.pdserve.structured;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The token mask of every automaton state, computed the first time a matcher stands in it by one
 * walk of the vocabulary trie, and kept for every later request with the same constraint.
 * A state's entry holds the tokens it accepts whatever lies below it on the stack, and the few
 * tokens that would finish its rule and go on reading in the caller: those depend on the stack
 * and are checked when a mask is filled.
 */
final class StateMasks {
    /** Below this many accepted tokens an entry keeps their ids, above it a bitmask. */
    private final int sparseLimit;
    private final Automaton pda;
    private final TokenVocabulary vocab;
    private final AtomicReferenceArray<Entry> entries;
    private final Frame floor;

    StateMasks(Automaton pda, TokenVocabulary vocab) {
        this.pda = pda;
        this.vocab = vocab;
        this.entries = new AtomicReferenceArray<>(pda.numStates);
        this.floor = Frame.floor(pda.numStates);
        this.sparseLimit = Math.max(16, vocab.size() / 32);
    }

    /** accepted tokens as a bitmask or as ids; {@code dependent}: ids to check against the stack. */
    record Entry(long[] bits, int[] ids, int[] dependent) {
        void orInto(long[] mask) {
            if (bits != null) {
                for (int i = 0; i < bits.length; i++) mask[i] |= bits[i];
            } else {
                for (int id : ids) mask[id >>> 6] |= 1L << id;
            }
        }

        boolean accepts(int id) { return bits != null ? (bits[id >>> 6] & (1L << id)) != 0 : java.util.Arrays.binarySearch(ids, id) >= 0; }
    }

    Entry entry(int state) {
        Entry e = entries.get(state);
        if (e == null) {
            e = compute(state); // two threads may both compute it; the results are equal
            entries.compareAndSet(state, null, e);
        }
        return e;
    }

    int numComputed() {
        int n = 0;
        for (int i = 0; i < entries.length(); i++) if (entries.get(i) != null) n++;
        return n;
    }

    private Entry compute(int q) {
        VocabTrie trie = vocab.trie;
        long[] bits = new long[vocab.maskWords()];
        IntList dependent = new IntList();
        boolean canEscape = pda.canReturn(q);
        int depthCap = trie.maxDepth + 1;
        int[] single = new int[depthCap]; // the lone frame's state when a prefix leaves one floor frame without calls, else -1
        boolean[] esc = new boolean[depthCap];
        @SuppressWarnings("unchecked")
        List<Frame>[] general = new List[depthCap];
        for (int d = 0; d < depthCap; d++) general[d] = new ArrayList<>(4);
        setDepth(0, floor.above(q), single, general);
        int count = 0;
        int[] sorted = trie.sorted;
        for (int i = 1; i < trie.numNodes; ) {
            int d = trie.depth[i];
            int b = trie.nodeByte[i] & 0xFF;
            boolean escaped;
            boolean alive;
            int s = single[d - 1];
            if (s >= 0) {
                escaped = pda.accepting[s] && canEscape;
                int t = pda.next(s, b);
                alive = t >= 0;
                if (alive) setDepth(d, floor.above(t), single, general);
            } else {
                List<Frame> out = general[d];
                out.clear();
                escaped = pda.step(general[d - 1], b, out, floor) && canEscape;
                alive = !out.isEmpty();
                single[d] = out.size() == 1 && out.getFirst().below == floor && pda.calls[out.getFirst().state] == null ? out.getFirst().state : -1;
            }
            // A pop right at the token's start is covered by the frame below, which is asked too.
            esc[d] = esc[d - 1] || (escaped && d >= 2);
            if (alive) {
                for (int k = trie.first[i]; k < trie.ownEnd[i]; k++) {
                    int id = sorted[k];
                    bits[id >>> 6] |= 1L << id;
                    count++;
                }
                i++;
            } else {
                if (esc[d]) for (int k = trie.first[i]; k < trie.subtreeTokensEnd(i); k++) dependent.add(sorted[k]);
                i = trie.subtreeEnd[i];
            }
        }
        int[] dep = dependent.toArray();
        java.util.Arrays.sort(dep);
        if (count > sparseLimit) return new Entry(bits, null, dep);
        int[] ids = new int[count];
        int n = 0;
        for (int w = 0; w < bits.length; w++) {
            for (long x = bits[w]; x != 0; x &= x - 1) ids[n++] = (w << 6) + Long.numberOfTrailingZeros(x);
        }
        return new Entry(null, ids, dep);
    }

    private void setDepth(int d, Frame f, int[] single, List<Frame>[] general) {
        if (pda.calls[f.state] == null) {
            single[d] = f.state;
        } else {
            single[d] = -1;
            general[d].clear();
            general[d].add(f);
        }
    }
}
