package dev.pdserve.structured;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sequence's position in a compiled constraint. Per decode step: {@link #fillMask} gives the
 * tokens that may come next (EOS only where the output is complete), then {@link #accept} takes
 * the sampled one. {@link #rollback} undoes accepted tokens (speculative decoding). Not
 * thread-safe: a matcher belongs to one sequence, used by one thread at a time.
 */
public final class Matcher {
    private final CompiledConstraint compiled;
    private final Automaton pda;
    private final StateMasks masks;
    private final TokenVocabulary vocab;
    /** Configurations after 0, 1, 2, ... accepted tokens; the last is the current one. */
    private final List<Frame[]> history = new ArrayList<>();
    private boolean terminated;
    private int terminatedAt = -1;
    private final List<Frame> scratch = new ArrayList<>();
    private final List<Frame> seen = new ArrayList<>();

    Matcher(CompiledConstraint compiled) {
        this.compiled = compiled;
        this.pda = compiled.automaton;
        this.masks = compiled.masks;
        this.vocab = compiled.vocab;
        history.add(new Frame[] {new Frame(pda.root, null)});
    }

    private Frame[] current() { return history.getLast(); }

    /** The current configuration (for tests and diagnostics). */
    Frame[] frames() { return current().clone(); }

    /**
     * Writes the allowed tokens of the next step into {@code mask} (bit {@code id % 64} of word
     * {@code id / 64}; at least {@link TokenVocabulary#maskWords()} words), clearing the rest.
     * After EOS was accepted nothing is allowed.
     */
    public void fillMask(long[] mask) {
        int words = vocab.maskWords();
        if (mask.length < words) throw new IllegalArgumentException("mask has " + mask.length + " words, the vocabulary needs " + words);
        Arrays.fill(mask, 0, words, 0L);
        if (terminated) return;
        seen.clear();
        boolean complete = false;
        for (Frame f : current()) complete |= addFrame(f, mask);
        if (complete) for (int e : vocab.eosIds()) if (e >= 0 && e < vocab.size()) mask[e >>> 6] |= 1L << e;
    }

    /** ORs in the tokens allowed from frame f; true when the stack can pop to the end (output complete). */
    private boolean addFrame(Frame f, long[] mask) {
        for (Frame g : seen) if (g.equals(f)) return false;
        seen.add(f);
        StateMasks.Entry e = masks.entry(f.state);
        e.orInto(mask);
        if (f.below != null) {
            for (int id : e.dependent()) {
                if ((mask[id >>> 6] & (1L << id)) == 0 && acceptsFrom(f, vocab.bytesUnsafe(id))) mask[id >>> 6] |= 1L << id;
            }
        }
        if (!pda.accepting[f.state]) return false;
        return f.below == null || addFrame(f.below, mask);
    }

    private boolean acceptsFrom(Frame f, byte[] bytes) {
        List<Frame> cur = new ArrayList<>(List.of(f));
        for (byte b : bytes) {
            scratch.clear();
            pda.step(cur, b, scratch, null);
            if (scratch.isEmpty()) return false;
            cur = new ArrayList<>(scratch);
        }
        return true;
    }

    /** True when {@code tokenId} may come next; does not change the matcher. */
    public boolean isAllowed(int tokenId) {
        if (terminated || tokenId < 0 || tokenId >= vocab.size()) return false;
        if (vocab.isEos(tokenId)) return isComplete();
        byte[] b = vocab.tokenBytes(tokenId);
        return b != null && advance(current(), b) != null;
    }

    /**
     * Takes the sampled token. Returns false, changing nothing, when the token is not allowed here
     * (a caller that applied the mask never sees that). EOS is allowed only where
     * {@link #isComplete()}; it ends the matcher.
     */
    public boolean accept(int tokenId) {
        if (terminated || tokenId < 0 || tokenId >= vocab.size()) return false;
        if (vocab.isEos(tokenId)) {
            if (!isComplete()) return false;
            history.add(current());
            terminated = true;
            terminatedAt = history.size() - 1;
            return true;
        }
        byte[] b = vocab.tokenBytes(tokenId);
        Frame[] next = b == null ? null : advance(current(), b);
        if (next == null) return false;
        history.add(next);
        return true;
    }

    /** Takes raw bytes (text forced into the output); false, changing nothing, when they do not fit. */
    boolean acceptBytes(byte[] bytes) {
        if (terminated) return false;
        Frame[] next = advance(current(), bytes);
        if (next == null) return false;
        history.add(next);
        return true;
    }

    private Frame[] advance(Frame[] from, byte[] bytes) {
        List<Frame> cur = Arrays.asList(from);
        for (byte b : bytes) {
            List<Frame> out = new ArrayList<>(Math.max(2, cur.size()));
            pda.step(cur, b, out, null);
            if (out.isEmpty()) return null;
            cur = out;
        }
        return cur.toArray(new Frame[0]);
    }

    /** The output so far is a complete match: EOS is allowed now. */
    public boolean isComplete() {
        if (terminated) return true;
        for (Frame f : current()) if (pda.complete(f)) return true;
        return false;
    }

    /** EOS was accepted: the sequence is finished. */
    public boolean isTerminated() { return terminated; }

    /**
     * Complete and nothing but EOS can follow: the engine should end the sequence now (also when
     * the request ignores EOS, since any other token would break the constraint).
     */
    public boolean mustStop() {
        if (terminated) return true;
        if (!isComplete()) return false;
        for (Frame f : current()) if (canContinue(f)) return false;
        return true;
    }

    private boolean canContinue(Frame f) {
        for (int c = 0; c < pda.numClasses; c++) if (pda.next[f.state * pda.numClasses + c] >= 0) return true;
        if (pda.calls[f.state] != null) return true;
        return pda.accepting[f.state] && f.below != null && canContinue(f.below);
    }

    /** Tokens accepted so far (EOS included). */
    public int numAccepted() { return history.size() - 1; }

    /** Undoes the last {@code k} accepted tokens. */
    public void rollback(int k) {
        if (k < 0 || k > numAccepted()) throw new IllegalArgumentException("cannot roll back " + k + " of " + numAccepted() + " tokens");
        for (int i = 0; i < k; i++) history.removeLast();
        if (terminated && history.size() - 1 < terminatedAt) {
            terminated = false;
            terminatedAt = -1;
        }
    }

    /** A matcher at the same position with its own history (for forking a sequence). */
    public Matcher copy() {
        Matcher m = new Matcher(compiled);
        m.history.clear();
        m.history.addAll(history);
        m.terminated = terminated;
        m.terminatedAt = terminatedAt;
        return m;
    }

    public CompiledConstraint constraint() { return compiled; }
}
