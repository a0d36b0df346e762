package dev.pdserve.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * vLLM's "random" dataset: lengths drawn uniformly around the requested means, prompts made of token ids
 * decoded to text, then re-encoded and trimmed so the text really is about that many tokens. As vLLM, the
 * input length counts what the server sees: the special tokens it adds (the BOS) come off the text, so
 * {@code --random-input-len 10} is 10 prompt tokens at the server; the range ratio and the prefix apply
 * to the rest.
 */
public final class RandomDataset {
    private static final int MAX_RETRIES = 10;

    private RandomDataset() {}

    public static List<SampleRequest> sample(PromptTokenizer tokenizer, int numRequests, int inputLen, int outputLen,
                                             double rangeRatio, int prefixLen, long seed) {
        if (!(rangeRatio >= 0.0 && rangeRatio < 1.0)) {
            throw new IllegalArgumentException("--random-range-ratio must be in [0, 1), got " + rangeRatio);
        }
        if (inputLen < 0 || outputLen < 1 || prefixLen < 0 || numRequests < 1) {
            throw new IllegalArgumentException("need --random-input-len >= 0, --random-output-len >= 1, --random-prefix-len >= 0, --num-prompts >= 1");
        }
        int realInputLen = Math.max(0, inputLen - tokenizer.numSpecialTokensToAdd());
        int inLow = (int) Math.floor(realInputLen * (1 - rangeRatio));
        int inHigh = (int) Math.ceil(realInputLen * (1 + rangeRatio));
        int outLow = Math.max(1, (int) Math.floor(outputLen * (1 - rangeRatio)));
        int outHigh = Math.max(1, (int) Math.ceil(outputLen * (1 + rangeRatio)));
        if (prefixLen + inLow < 1) {
            throw new IllegalArgumentException("--random-input-len is too small: with " + tokenizer.numSpecialTokensToAdd()
                    + " special token(s) and --random-range-ratio " + rangeRatio + ", prefix + sampled input can be "
                    + (prefixLen + inLow) + " tokens; increase --random-input-len or --random-prefix-len");
        }
        SplittableRandom rng = new SplittableRandom(seed);
        int[] allowed = allowedTokens(tokenizer);
        int[] prefix = new int[prefixLen];
        for (int i = 0; i < prefixLen; i++) prefix[i] = allowed[rng.nextInt(allowed.length)];

        List<SampleRequest> out = new ArrayList<>(numRequests);
        for (int i = 0; i < numRequests; i++) {
            int in = rng.nextInt(inLow, inHigh + 1);
            int outTokens = rng.nextInt(outLow, outHigh + 1);
            int offset = rng.nextInt(tokenizer.vocabSize());
            int[] seq = Arrays.copyOf(prefix, prefixLen + in);
            // Consecutive ids from a per-request offset: cheap, reproducible, and different across requests.
            for (int j = 0; j < in; j++) seq[prefixLen + j] = allowed[(int) ((offset + (long) i + j) % allowed.length)];
            out.add(decodeToLength(tokenizer, seq, prefixLen + in, allowed, rng, outTokens));
        }
        return out;
    }

    /** Decode, re-encode, then trim or pad until the text encodes to {@code target} tokens (or retries run out). */
    static SampleRequest decodeToLength(PromptTokenizer tokenizer, int[] seq, int target, int[] allowed,
                                        SplittableRandom rng, int outputLen) {
        String prompt;
        int tries = MAX_RETRIES;
        while (true) {
            prompt = tokenizer.decode(seq);
            seq = tokenizer.encode(prompt);
            if (tries-- <= 0 || seq.length == target) break;
            if (seq.length > target) {
                seq = Arrays.copyOf(seq, target);
            } else {
                int have = seq.length;
                seq = Arrays.copyOf(seq, target);
                for (int k = have; k < target; k++) seq[k] = allowed[rng.nextInt(allowed.length)];
            }
        }
        return new SampleRequest(prompt, seq.length, outputLen);
    }

    static int[] allowedTokens(PromptTokenizer tokenizer) {
        boolean[] banned = new boolean[tokenizer.vocabSize()];
        for (int id : tokenizer.specialIds()) if (id >= 0 && id < banned.length) banned[id] = true;
        int[] allowed = new int[banned.length];
        int n = 0;
        for (int id = 0; id < banned.length; id++) if (!banned[id]) allowed[n++] = id;
        if (n == 0) throw new IllegalArgumentException("tokenizer has no non-special tokens");
        return Arrays.copyOf(allowed, n);
    }
}
