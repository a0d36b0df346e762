package dev.pdserve.launch;

/**
 * Where one instance runs: the cores it is pinned to (a Linux cpu list for {@code taskset -c}, null for
 * anywhere) and its kernel worker threads ({@code --threads}; 0 lets pdserve use every core it sees).
 */
public record Placement(String cores, int threads) {
    public static final Placement ANYWHERE = new Placement(null, 0);

    public Placement {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        if (cores != null && !cores.matches("[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*")) {
            throw new IllegalArgumentException("cores must be a cpu list like 0-3,8, got '" + cores + "'");
        }
    }

    /** Pinned to {@code cores}, with as many threads as the list names cores. */
    public static Placement pinned(String cores) {
        return new Placement(cores, dev.pdserve.cluster.CoreSets.count(cores));
    }

    @Override
    public String toString() {
        return (cores == null ? "any core" : "cores " + cores) + (threads > 0 ? ", " + threads + " threads" : "");
    }
}
