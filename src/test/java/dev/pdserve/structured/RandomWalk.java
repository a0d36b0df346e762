package dev.pdserve.structured;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Samples outputs from a constraint the way a model would: at every step a token allowed by the
 * mask, until EOS. Early steps mostly take a uniformly random allowed token, later ones more and
 * more the best of a few random candidates by how close they bring the output to completion, so
 * walks finish.
 * Every step checks the mask's EOS bit against {@link Matcher#isComplete()}, and, with
 * {@code bruteForce}, every bit against running the token's bytes through the automaton.
 */
final class RandomWalk {
    private final CompiledConstraint compiled;
    private final TokenVocabulary vocab;
    private final Distances distances;
    private final boolean bruteForce;

    RandomWalk(CompiledConstraint compiled, boolean bruteForce) {
        this.compiled = compiled;
        this.vocab = compiled.vocab;
        this.distances = new Distances(compiled.automaton);
        this.bruteForce = bruteForce;
    }

    /** The bytes of one complete output, or null when it did not finish within maxSteps. */
    byte[] walk(Random rnd, int maxSteps) {
        Matcher m = compiled.newMatcher();
        long[] mask = new long[vocab.maskWords()];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int step = 0; step < maxSteps; step++) {
            m.fillMask(mask);
            int eos = vocab.eosIds()[0];
            assertThat(TokenMask.isAllowed(mask, eos)).as("EOS allowed exactly when complete, after '%s'", text(out)).isEqualTo(m.isComplete());
            if (bruteForce) checkAgainstBruteForce(m, mask, out);
            List<Integer> allowed = new ArrayList<>();
            for (int id = 0; id < vocab.size(); id++) if (TokenMask.isAllowed(mask, id) && !vocab.isEos(id)) allowed.add(id);
            if (m.isComplete() && (allowed.isEmpty() || rnd.nextInt(3) == 0)) {
                assertThat(m.accept(eos)).isTrue();
                assertThat(m.isTerminated()).isTrue();
                return out.toByteArray();
            }
            assertThat(allowed).as("a live state always has a next token, after '%s'", text(out)).isNotEmpty();
            // Wander first, then head for the end.
            boolean home = rnd.nextDouble() < Math.min(1.0, 0.2 + 2.0 * step / maxSteps);
            int pick = home ? closest(m, allowed, rnd) : allowed.get(rnd.nextInt(allowed.size()));
            assertThat(m.accept(pick)).as("a masked-in token is accepted").isTrue();
            out.writeBytes(vocab.tokenBytes(pick));
        }
        return null;
    }

    private int closest(Matcher m, List<Integer> allowed, Random rnd) {
        int best = -1;
        long bestD = Long.MAX_VALUE;
        for (int i = 0; i < 24; i++) {
            int id = allowed.get(rnd.nextInt(allowed.size()));
            Matcher c = m.copy();
            c.accept(id);
            long d = distances.of(c.frames());
            if (d < bestD) { bestD = d; best = id; }
        }
        return best;
    }

    private void checkAgainstBruteForce(Matcher m, long[] mask, ByteArrayOutputStream out) {
        for (int id = 0; id < vocab.size(); id++) {
            boolean expected = m.isAllowed(id);
            if (TokenMask.isAllowed(mask, id) != expected) {
                throw new AssertionError("mask bit of token " + id + " (" + Arrays.toString(vocab.tokenBytes(id)) + ") is "
                        + !expected + " but the automaton says " + expected + " after '" + text(out) + "'");
            }
        }
    }

    private static String text(ByteArrayOutputStream out) { return out.toString(java.nio.charset.StandardCharsets.UTF_8); }

    /** Fewest bytes from a configuration to a complete output. */
    static final class Distances {
        private static final long INF = Long.MAX_VALUE / 4;
        private final Automaton a;
        private final long[] dist;

        Distances(Automaton a) {
            this.a = a;
            int n = a.numStates;
            long[] d = new long[n];
            for (int s = 0; s < n; s++) d[s] = a.accepting[s] ? 0 : INF;
            boolean changed = true;
            while (changed) { // Bellman-Ford passes; test automata are small
                changed = false;
                for (int s = n - 1; s >= 0; s--) {
                    long best = d[s];
                    for (int c = 0; c < a.numClasses; c++) {
                        int t = a.next[s * a.numClasses + c];
                        if (t >= 0) best = Math.min(best, d[t] + 1);
                    }
                    int[] calls = a.calls[s];
                    if (calls != null) for (int i = 0; i < calls.length; i += 2) best = Math.min(best, d[calls[i]] + d[calls[i + 1]]);
                    if (best < d[s]) {
                        d[s] = best;
                        changed = true;
                    }
                }
            }
            this.dist = d;
        }

        long of(Frame[] config) {
            long best = INF;
            for (Frame f : config) {
                long sum = 0;
                for (Frame g = f; g != null; g = g.below) sum += dist[g.state];
                best = Math.min(best, sum);
            }
            return best;
        }
    }
}
