package dev.pdserve.structured;

/**
 * A constraint compiled for one vocabulary: the automaton and its lazily filled per-state token
 * masks. Immutable apart from that cache and safe to share across requests and threads; every
 * sequence (each of n > 1 choices too) takes its own {@link #newMatcher()}.
 */
public final class CompiledConstraint {
    final Constraint constraint;
    final Automaton automaton;
    final TokenVocabulary vocab;
    final StateMasks masks;
    private final long compileNanos;

    CompiledConstraint(Constraint constraint, Automaton automaton, TokenVocabulary vocab, long compileNanos) {
        this.constraint = constraint;
        this.automaton = automaton;
        this.vocab = vocab;
        this.masks = new StateMasks(automaton, vocab);
        this.compileNanos = compileNanos;
    }

    public Matcher newMatcher() { return new Matcher(this); }

    public Constraint constraint() { return constraint; }

    public TokenVocabulary vocabulary() { return vocab; }

    /** Automaton states (each may get a cached mask when first visited). */
    public int numStates() { return automaton.numStates; }

    /** States whose masks have been computed so far. */
    public int numCachedMasks() { return masks.numComputed(); }

    public long compileNanos() { return compileNanos; }
}
