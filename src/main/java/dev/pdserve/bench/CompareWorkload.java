package dev.pdserve.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Workloads for comparing a colocated instance with prefill/decode disaggregation. {@link #mixed} is the one
 * where PD shows its worth: chat-like requests (short prompt, long answer) decode while long-prompt,
 * short-answer requests (summaries, RAG) keep arriving. Colocated, every long prefill shares engine steps with
 * the running decodes and stretches their inter-token gaps (TPOT P99); disaggregated, the prefills run on
 * their own instance and decodes only pay for the KV transfer.
 */
public final class CompareWorkload {
    private CompareWorkload() {}

    /**
     * {@code numPrompts} requests, a {@code longFraction} share of them long-prompt ones, in a seeded random
     * order; the first request is always a short one so warmups and the first arrivals are decodes.
     */
    public static List<SampleRequest> mixed(PromptTokenizer tokenizer, int numPrompts, int shortInputLen, int shortOutputLen,
                                            int longInputLen, int longOutputLen, double longFraction, long seed) {
        if (!(longFraction >= 0 && longFraction <= 1)) throw new IllegalArgumentException("--long-fraction must be in [0, 1], got " + longFraction);
        if (numPrompts < 1) throw new IllegalArgumentException("--num-prompts must be >= 1");
        int numLong = (int) Math.round(numPrompts * longFraction);
        if (numLong == numPrompts && numPrompts > 1) numLong--;
        int numShort = numPrompts - numLong;
        List<SampleRequest> out = new ArrayList<>(numPrompts);
        out.addAll(RandomDataset.sample(tokenizer, numShort, shortInputLen, shortOutputLen, 0.0, 0, seed));
        if (numLong > 0) out.addAll(RandomDataset.sample(tokenizer, numLong, longInputLen, longOutputLen, 0.0, 0, seed + 1));
        List<SampleRequest> rest = new ArrayList<>(out.subList(1, out.size()));
        Collections.shuffle(rest, new Random(seed));
        List<SampleRequest> ordered = new ArrayList<>(numPrompts);
        ordered.add(out.getFirst());
        ordered.addAll(rest);
        return ordered;
    }
}
