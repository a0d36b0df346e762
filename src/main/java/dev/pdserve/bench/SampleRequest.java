package dev.pdserve.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** One prompt of a workload: its text, its length in tokens, and how many tokens to ask for. */
public record SampleRequest(String prompt, int promptLen, int expectedOutputLen) {
    public SampleRequest {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
        if (expectedOutputLen < 1) throw new IllegalArgumentException("expected output length must be >= 1, got " + expectedOutputLen);
    }

    /** Like vLLM: a file with fewer prompts than --num-prompts is topped up with seeded random repeats. */
    public static List<SampleRequest> oversample(List<SampleRequest> requests, int numPrompts, long seed) {
        if (requests.size() >= numPrompts) return List.copyOf(requests.subList(0, numPrompts));
        List<SampleRequest> out = new ArrayList<>(requests);
        SplittableRandom rng = new SplittableRandom(seed);
        while (out.size() < numPrompts) out.add(requests.get(rng.nextInt(requests.size())));
        return out;
    }
}
