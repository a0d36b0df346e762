package dev.pdserve.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Multi-turn chat traffic, as ShareGPT-style multi-turn benchmarks replay it: conversations that all
 * start with the same system prompt, each turn resending the whole history (system prompt, every earlier
 * user message and answer) plus a new user message. Prefix caching and KV-aware routing are what this
 * rewards: turn k+1 starts with turn k's prompt. The answers in the history are synthetic (fixed per
 * conversation and turn, {@code outputLen} tokens), so the workload does not depend on what the server
 * generates. Requests come out turn by turn across conversations (every conversation's first turn, then
 * every second turn, ...), so at a request rate R one conversation's turns are about
 * {@code conversations / R} seconds apart: that spacing is the think time.
 */
public final class MultiTurnDataset {
    private MultiTurnDataset() {}

    /** {@code numRequests} requests of {@code ceil(numRequests / turns)} conversations of {@code turns} turns. */
    public static List<SampleRequest> sample(PromptTokenizer tokenizer, int numRequests, int turns, int systemPromptLen,
                                             int userLen, int outputLen, long seed) {
        if (numRequests < 1 || turns < 1 || systemPromptLen < 0 || userLen < 1 || outputLen < 1) {
            throw new IllegalArgumentException("need --num-prompts >= 1, --multi-turn-turns >= 1, --multi-turn-system-prompt-len >= 0, "
                    + "--multi-turn-user-len >= 1, --output-len >= 1");
        }
        SplittableRandom rng = new SplittableRandom(seed);
        int[] allowed = RandomDataset.allowedTokens(tokenizer);
        String system = "System: " + text(tokenizer, allowed, rng, systemPromptLen) + "\n";
        int conversations = (numRequests + turns - 1) / turns;
        List<StringBuilder> history = new ArrayList<>();
        for (int c = 0; c < conversations; c++) history.add(new StringBuilder(system));
        List<SampleRequest> out = new ArrayList<>(numRequests);
        for (int t = 0; t < turns; t++) {
            for (int c = 0; c < conversations && out.size() < numRequests; c++) {
                StringBuilder h = history.get(c);
                h.append("User: ").append(text(tokenizer, allowed, rng, userLen)).append("\nAssistant:");
                String prompt = h.toString();
                out.add(new SampleRequest(prompt, tokenizer.encode(prompt).length, outputLen));
                h.append(' ').append(text(tokenizer, allowed, rng, outputLen)).append('\n');
            }
        }
        return out;
    }

    /** Text of about {@code n} tokens (re-encoded to length, as the random dataset does) from random allowed ids, on one line. */
    private static String text(PromptTokenizer tokenizer, int[] allowed, SplittableRandom rng, int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = allowed[rng.nextInt(allowed.length)];
        return RandomDataset.decodeToLength(tokenizer, ids, n, allowed, rng, 1).prompt().replace('\n', ' ');
    }
}
