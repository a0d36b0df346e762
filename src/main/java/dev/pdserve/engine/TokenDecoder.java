package dev.pdserve.engine;

import dev.pdserve.tokenizer.IncrementalDecoder;
import dev.pdserve.tokenizer.Tokenizer;

/** Turns one request's generated tokens into text, one delta per token (never a broken character). */
interface TokenDecoder {
    String add(int tokenId);

    /** Makes a request's decoder from its prompt (the text of a token can depend on the one before). */
    @FunctionalInterface
    interface Factory {
        TokenDecoder create(int[] promptIds, boolean skipSpecialTokens);
    }

    /** The tokenizer's streaming detokenizer (vLLM's prefix/read-offset window). */
    static Factory of(Tokenizer tokenizer) {
        return (promptIds, skip) -> new IncrementalDecoder(tokenizer, promptIds, skip)::add;
    }
}
