package dev.pdserve.structured;

/** One level of a parse stack: a state, and the return states below it (null at the bottom). Immutable. */
final class Frame {
    final int state;
    final Frame below;
    private final int hash;
    /** Frames {@code (s, this)} for every s, made on first use: a floor's frames are shared by all walks. */
    private Frame[] aboveCache;

    Frame(int state, Frame below) {
        this.state = state;
        this.below = below;
        this.hash = 31 * (below == null ? 7 : below.hash) + state;
    }

    /** {@code new Frame(s, this)}, interned when this frame is a floor with a cache. */
    Frame above(int s) {
        if (aboveCache == null) return new Frame(s, this);
        Frame f = aboveCache[s];
        if (f == null) aboveCache[s] = f = new Frame(s, this);
        return f;
    }

    /** A frame under which nothing is ever read: the floor of a vocabulary walk. */
    static Frame floor(int numStates) {
        Frame f = new Frame(-1, null);
        f.aboveCache = new Frame[numStates];
        return f;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) return true;
        if (!(o instanceof Frame f) || f.hash != hash) return false;
        Frame a = this, b = f;
        while (a != null && b != null) {
            if (a == b) return true;
            if (a.state != b.state) return false;
            a = a.below;
            b = b.below;
        }
        return a == b;
    }

    @Override
    public int hashCode() { return hash; }
}
