package dev.pdserve.engine;

/**
 * vLLM's {@code ngram} method (prompt lookup): find the longest n-gram, {@code min <= n <= max},
 * that ends the request's tokens and also occurs earlier in them (the earliest such occurrence
 * on ties), and propose the tokens that followed it there. Drafts only what already happened, so
 * it pays when the output copies its input (code edits, quoting, summaries of a document).
 */
final class NgramDrafter implements Drafter {
    private final int min;
    private final int max;

    NgramDrafter(int min, int max) {
        if (min < 1 || max < min) throw new IllegalArgumentException("n-gram window [" + min + ", " + max + "]");
        this.min = min;
        this.max = max;
    }

    @Override
    public int propose(Request r, int k) {
        return propose(r.tokens, r.numTokens, min, max, k);
    }

    /**
     * Looks in {@code tokens[0, n)}; writes up to {@code k} drafts to {@code tokens[n, n + k)}
     * (never past the end of what is copied from, so source and target do not overlap).
     */
    static int propose(int[] tokens, int n, int min, int max, int k) {
        if (n < min + 1 || k < 1) return 0;
        int bestLen = 0, bestEnd = -1;
        // A candidate ends at e (exclusive) with e < n, so at least one token follows it.
        for (int e = min; e < n; e++) {
            if (tokens[e - 1] != tokens[n - 1]) continue;
            int len = 1, cap = Math.min(max, e);
            while (len < cap && tokens[e - 1 - len] == tokens[n - 1 - len]) len++;
            if (len > bestLen) {
                bestLen = len;
                bestEnd = e;
                if (len == max) break; // cannot get longer; later ties lose to this earliest one
            }
        }
        if (bestLen < min) return 0;
        int count = Math.min(k, n - bestEnd);
        System.arraycopy(tokens, bestEnd, tokens, n, count);
        return count;
    }
}
