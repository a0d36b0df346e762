package dev.pdserve.engine;

import java.util.List;

/**
 * How to pick the next tokens and when to stop, with vLLM's meanings. {@code temperature == 0}
 * is greedy. {@code topK <= 0} and {@code topP == 1} disable those filters. {@code logprobs} is
 * the number of top alternatives to report per token, or null for none.
 */
public record SamplingParams(
        double temperature,
        double topP,
        int topK,
        double minP,
        Long seed,
        double presencePenalty,
        double frequencyPenalty,
        double repetitionPenalty,
        List<String> stop,
        int[] stopTokenIds,
        boolean includeStopStrInOutput,
        int maxTokens,
        int minTokens,
        boolean ignoreEos,
        Integer logprobs,
        boolean skipSpecialTokens) {

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 1, 0, 0, null, 0, 0, 1, List.of(), new int[0], false, maxTokens, 0, false, null, true);
    }

    public boolean isGreedy() { return temperature <= 0; }
}
