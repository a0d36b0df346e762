package dev.pdserve.engine;

import dev.pdserve.tokenizer.Tokenizer;

/** Turns one request's generated tokens into text, one delta per token (never a broken character). */
interface TokenDecoder {
    String add(int tokenId);

    /** Makes a request's decoder from its prompt (the text of a token can depend on the one before). */
    @FunctionalInterface
    interface Factory {
        TokenDecoder create(int[] promptIds, boolean skipSpecialTokens);
    }

    /**
     * Stand-in until {@code dev.pdserve.tokenizer.IncrementalDecoder} lands on main: decodes a
     * short window of tokens and emits what grew, holding back a trailing U+FFFD (an unfinished
     * UTF-8 sequence) until the next token completes it.
     */
    static Factory of(Tokenizer tokenizer) {
        return (promptIds, skip) -> new TokenDecoder() {
            private int[] ids = java.util.Arrays.copyOf(promptIds, Math.max(16, promptIds.length + 16));
            private int n = promptIds.length;
            private int prefix = Math.max(0, n - 5);
            private int read = n;

            @Override
            public String add(int tokenId) {
                if (n == ids.length) ids = java.util.Arrays.copyOf(ids, n * 2);
                ids[n++] = tokenId;
                String before = tokenizer.decode(ids, prefix, read, skip);
                String after = tokenizer.decode(ids, prefix, n, skip);
                if (after.length() > before.length() && !after.endsWith("\uFFFD")) {
                    prefix = read;
                    read = n;
                    return after.substring(before.length());
                }
                return "";
            }
        };
    }
}
