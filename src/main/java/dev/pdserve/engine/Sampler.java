package dev.pdserve.engine;

import dev.pdserve.structured.TokenMask;

import java.util.Arrays;
import java.util.Map;

/**
 * Picks each sampled request's next token from its logits row, in vLLM v1's order: the
 * structured output mask (tokens that cannot continue the constrained output go to -inf), logprobs of
 * the (masked) raw logits (vLLM's default {@code logprobs_mode=raw_logprobs}), min_tokens suppression of
 * EOS and stop ids, logit_bias, repetition/frequency/presence penalties, then greedy argmax (lowest id on
 * ties) or temperature, min_p, top_k, top_p and a draw from the request's own random stream.
 * Scratch arrays and the {@link SamplerOutput} are reused: nothing is allocated per token except
 * the logprobs handed to the output.
 */
final class Sampler {
    private final int vocab;
    private final int[] eosIds;
    private final float[] probs;
    /** A copy of the raw logits row, kept only when logprobs are asked for. */
    private final float[] raw;
    private final long[] order;
    /** Per-token counts, filled and then cleared again for one request at a time. */
    private final int[] counts;
    private final boolean[] seen;
    private final SamplerOutput out = new SamplerOutput();
    private TokenLogprob lastLogprob;
    /** {@link #verify}'s "no draft to check": sample plainly. */
    static final int NO_DRAFT = -1;
    /** One sequence's allowed-token bitmask, refilled per constrained sequence. */
    private final long[] mask;

    Sampler(int vocab, int[] eosIds) {
        this.vocab = vocab;
        this.eosIds = eosIds.clone();
        this.probs = new float[vocab];
        this.raw = new float[vocab];
        this.order = new long[vocab];
        this.counts = new int[vocab];
        this.seen = new boolean[vocab];
        this.mask = new long[(vocab + 63) >>> 6];
    }

    /**
     * Samples every entry of the batch that {@link ScheduledBatch#samples} and carries no drafts,
     * from its row of {@code logits} (rows in batch order, which this may overwrite). Entries
     * with drafts are left at {@link SamplerOutput#NO_TOKEN}: {@link #verify} takes their rows.
     * One entry's exception is that entry's failure alone: the others are sampled as they would
     * have been without it.
     */
    SamplerOutput sample(ScheduledBatch batch, float[] logits) {
        out.reset(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            if (batch.samples(i) && batch.numDrafts(i) == 0) {
                try {
                    // With no drafts the sampling row is the entry's last (prompt logprobs rows come before it).
                    int token = pick(logits, batch.samplingRow(i) * vocab, batch.request(i), NO_DRAFT);
                    out.set(i, token, lastLogprob);
                } catch (RuntimeException e) {
                    out.fail(i, e);
                }
            }
        }
        return out;
    }

    /**
     * Verifies one draft token against the row of logits computed just before it (the request's
     * state must hold every token up to that row's position): returns {@code draft} when it is
     * accepted, else the token to take instead; {@code draft = NO_DRAFT} samples plainly (the
     * bonus row after the last draft). Greedy accepts exactly the argmax. Otherwise the draft is
     * deterministic (n-gram, argmax of MTP), so it is accepted with probability p(draft) under
     * the request's final sampling distribution, and a rejection draws from p with the draft
     * removed: the token that comes out is distributed exactly as plain sampling's. The token's
     * logprobs are {@link #lastLogprob()}.
     */
    int verify(float[] logits, int off, Request r, int draft) {
        return pick(logits, off, r, draft);
    }

    /** The logprobs of the token the last {@link #verify} returned (null when not asked for). */
    TokenLogprob lastLogprob() { return lastLogprob; }

    /** Picks from {@code logits[off, off + vocab)}: vLLM's order (see the class comment), then {@link #verify}'s rule. */
    private int pick(float[] logits, int off, Request r, int draft) {
        SamplingParams p = r.sampling;
        if (r.matcher != null) {
            r.matcher.fillMask(mask);
            TokenMask.apply(mask, logits, off, vocab);
        }
        boolean wantLogprobs = p.logprobs() != null;
        if (wantLogprobs) System.arraycopy(logits, off, raw, 0, vocab);

        if (r.numOutputTokens() < p.minTokens()) suppressStops(logits, off, p);
        for (Map.Entry<Integer, Float> bias : p.logitBias().entrySet()) logits[off + bias.getKey()] += bias.getValue();
        applyPenalties(logits, off, r);

        // vLLM treats temperatures below 1e-5 as greedy too.
        int token = p.temperature() < 1e-5 ? argmax(logits, off) : draw(logits, off, r, draft);
        lastLogprob = wantLogprobs ? logprob(raw, 0, token, p.numLogprobs(vocab)) : null;
        return token;
    }

    /**
     * The log-probability of {@code token} under the raw logits {@code logits[off, off + vocab)},
     * with the {@code topK} best alternatives and the token's rank. Also what a prompt token's
     * logprob is (vLLM's prompt_logprobs), from the row of the position before it.
     */
    TokenLogprob logprob(float[] logits, int off, int token, int topK) {
        float max = max(logits, off);
        float logSum = logSumExp(logits, off, max);
        int[] ids = topIds(logits, off, Math.min(topK, vocab));
        float[] lps = new float[ids.length];
        for (int k = 0; k < ids.length; k++) lps[k] = logits[off + ids[k]] - max - logSum;
        float v = logits[off + token];
        int rank = 1;
        for (int t = 0; t < vocab; t++) if (logits[off + t] > v) rank++;
        return new TokenLogprob(token, v - max - logSum, ids, lps, rank);
    }

    private void suppressStops(float[] logits, int off, SamplingParams p) {
        if (!p.ignoreEos()) for (int e : eosIds) if (e >= 0 && e < vocab) logits[off + e] = Float.NEGATIVE_INFINITY;
        if (p.stopTokenIds() != null) for (int s : p.stopTokenIds()) if (s >= 0 && s < vocab) logits[off + s] = Float.NEGATIVE_INFINITY;
    }

    private void applyPenalties(float[] logits, int off, Request r) {
        SamplingParams p = r.sampling;
        double rep = p.repetitionPenalty();
        if (rep != 1.0 && rep > 0) {
            for (int i = 0; i < r.numTokens; i++) seen[r.tokens[i]] = true;
            for (int i = 0; i < r.numTokens; i++) {
                int t = r.tokens[i];
                if (!seen[t]) continue;
                seen[t] = false;
                float l = logits[off + t];
                logits[off + t] = (float) (l > 0 ? l / rep : l * rep);
            }
        }
        double freq = p.frequencyPenalty(), pres = p.presencePenalty();
        if (freq != 0 || pres != 0) {
            for (int i = r.numPromptTokens; i < r.numTokens; i++) counts[r.tokens[i]]++;
            for (int i = r.numPromptTokens; i < r.numTokens; i++) {
                int t = r.tokens[i];
                int c = counts[t];
                if (c == 0) continue;
                counts[t] = 0;
                logits[off + t] -= (float) (freq * c + pres);
            }
        }
    }

    /** Draws from the processed distribution; with a draft, {@link #verify}'s accept-or-residual rule over the same distribution. */
    private int draw(float[] logits, int off, Request r, int draft) {
        SamplingParams p = r.sampling;
        float inv = (float) (1.0 / p.temperature());
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) m = Math.max(m, logits[off + i] * inv);
        // Logits scaled to infinity (a huge repetition penalty or 1/temperature), all suppressed, or NaN: no
        // distribution to draw from, so the most likely token it is.
        if (!Float.isFinite(m)) return argmax(logits, off);
        double sum = 0;
        float maxP = 0;
        for (int i = 0; i < vocab; i++) {
            float e = (float) Math.exp(logits[off + i] * inv - m);
            probs[i] = e;
            sum += e;
        }
        for (int i = 0; i < vocab; i++) maxP = Math.max(maxP, probs[i] /= (float) sum);
        if (p.minP() > 0) {
            float cut = (float) (p.minP() * maxP);
            for (int i = 0; i < vocab; i++) if (probs[i] < cut) probs[i] = 0;
        }
        double u = r.nextRandom();
        boolean filter = (p.topK() > 0 && p.topK() < vocab) || p.topP() < 1.0;
        if (!filter) {
            double total = 0;
            for (int i = 0; i < vocab; i++) total += probs[i];
            if (draft >= 0) {
                double pd = probs[draft];
                if (u * total < pd) return draft;
                total -= pd;
                if (total <= 0) return draft;
                u = r.nextRandom(); // rejected: draw from what is left
            }
            double target = u * total, acc = 0;
            int last = -1;
            for (int i = 0; i < vocab; i++) {
                if (probs[i] == 0 || i == draft) continue;
                acc += probs[i];
                last = i;
                if (acc > target) return i;
            }
            return last < 0 ? Math.max(draft, 0) : last;
        }
        // Candidates best first as (prob bits, inverted id) keys: probs >= 0, so float bits order like the floats,
        // and among equal probs the lower id ranks first.
        int n = 0;
        int limit = p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab;
        if (limit <= 256) {
            // A small top_k: keep only the best `limit` keys, ascending in order[0..n), without sorting the vocabulary.
            for (int i = 0; i < vocab; i++) {
                if (probs[i] <= 0) continue;
                long key = key(probs[i], i);
                int j;
                if (n < limit) {
                    j = n++;
                    while (j > 0 && order[j - 1] > key) { order[j] = order[j - 1]; j--; }
                } else {
                    if (key <= order[0]) continue;
                    j = 0; // drop the smallest, slide the key up to its place
                    while (j + 1 < n && order[j + 1] < key) { order[j] = order[j + 1]; j++; }
                }
                order[j] = key;
            }
        } else {
            for (int i = 0; i < vocab; i++) if (probs[i] > 0) order[n++] = key(probs[i], i);
            Arrays.sort(order, 0, n);
        }
        if (n == 0) return argmax(logits, off); // every probability underflowed to zero
        int keep = p.topK() > 0 ? Math.min(n, p.topK()) : n;
        double total = 0;
        for (int k = 0; k < keep; k++) total += probOf(order[n - 1 - k]);
        if (p.topP() < 1.0) {
            double acc = 0, need = p.topP() * total;
            int k = 0;
            while (k < keep) {
                acc += probOf(order[n - 1 - k++]);
                if (acc >= need) break;
            }
            keep = Math.max(1, k);
            total = acc;
        }
        if (draft >= 0) {
            // The kept candidates are order[n - keep, n): the draft is one of them when its key ranks that high.
            double pd = probs[draft] > 0 && key(probs[draft], draft) >= order[n - keep] ? probs[draft] : 0;
            if (u * total < pd) return draft;
            total -= pd;
            if (total <= 0) return draft;
            u = r.nextRandom();
        }
        double target = u * total, acc = 0;
        int last = -1;
        for (int k = 0; k < keep; k++) {
            int id = idOf(order[n - 1 - k]);
            if (id == draft) continue;
            acc += probOf(order[n - 1 - k]);
            last = id;
            if (acc > target) return id;
        }
        return last < 0 ? draft : last;
    }

    private static long key(float prob, int id) { return ((long) Float.floatToRawIntBits(prob) << 32) | (0xFFFFFFFFL - id); }

    private static float probOf(long key) { return Float.intBitsToFloat((int) (key >>> 32)); }

    private static int idOf(long key) { return (int) (0xFFFFFFFFL - (key & 0xFFFFFFFFL)); }

    private int argmax(float[] logits, int off) {
        int best = 0;
        float bv = logits[off];
        for (int i = 1; i < vocab; i++) {
            float v = logits[off + i];
            if (v > bv) { bv = v; best = i; }
        }
        return best;
    }

    private float max(float[] logits, int off) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) m = Math.max(m, logits[off + i]);
        return m;
    }

    private float logSumExp(float[] logits, int off, float m) {
        double s = 0;
        for (int i = 0; i < vocab; i++) s += Math.exp(logits[off + i] - m);
        return (float) Math.log(s);
    }

    /** The n highest logits' ids, best first (lowest id on ties). */
    private int[] topIds(float[] logits, int off, int n) {
        int[] ids = new int[n];
        int size = 0;
        for (int i = 0; i < vocab; i++) {
            float v = logits[off + i];
            if (size == n && (n == 0 || v <= logits[off + ids[n - 1]])) continue;
            int j = size < n ? size++ : n - 1;
            while (j > 0 && logits[off + ids[j - 1]] < v) { ids[j] = ids[j - 1]; j--; }
            ids[j] = i;
        }
        return ids;
    }
}
