package dev.pdserve.bench;

/**
 * What the benchmark needs from a tokenizer: build prompts of a given token length and count tokens.
 * Kept this small so any tokenizer (the DJL one here, pdserve's own later) can stand behind it.
 */
public interface PromptTokenizer {
    /** Token ids of {@code text}, without special tokens (no BOS), as vLLM's datasets count them. */
    int[] encode(String text);

    String decode(int[] ids);

    /** Size of the base vocabulary; random prompts draw ids below it. */
    int vocabSize();

    /**
     * Special tokens the server adds to one prompt (the BOS), transformers' {@code num_special_tokens_to_add()}:
     * vLLM's random dataset makes the text that much shorter so the server sees the requested length.
     */
    default int numSpecialTokensToAdd() {
        return 0;
    }

    /** Ids that random prompts must not contain (BOS, EOS, pad, chat markers...). */
    default int[] specialIds() {
        return new int[0];
    }
}
