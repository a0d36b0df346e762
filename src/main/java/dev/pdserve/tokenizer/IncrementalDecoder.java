package dev.pdserve.tokenizer;

import java.util.Arrays;

/**
 * Streaming detokenization for one generated sequence, as vLLM does it. Each step decodes only a short
 * window: {@code prefix = decode(ids[prefixOffset, readOffset))} and {@code full = decode(ids[prefixOffset, end))};
 * the new text is what {@code full} adds to {@code prefix}. Starting the window a few tokens back lets
 * decoders that look at neighbours (spaces, byte-level pieces) see context. While {@code full} ends in
 * U+FFFD a UTF-8 character is still split across byte-level tokens, so nothing is emitted until a later
 * token completes it. Not thread-safe: one per sequence, fed by one thread.
 */
public final class IncrementalDecoder {
    /** Prompt tokens kept as context for the first generated tokens (vLLM keeps 5 too). */
    private static final int PROMPT_CONTEXT = 5;

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private final StringBuilder text = new StringBuilder();
    private int[] ids;       // last prompt tokens, then every generated token
    private int size;
    private int prefixOffset;
    private int readOffset;

    public IncrementalDecoder(Tokenizer tokenizer, int[] promptIds, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
        int context = Math.min(PROMPT_CONTEXT, promptIds.length);
        this.ids = new int[Math.max(64, context * 2)];
        System.arraycopy(promptIds, promptIds.length - context, ids, 0, context);
        this.size = context;
        this.prefixOffset = 0;
        this.readOffset = context;
    }

    /** Adds one generated token; returns the text it completes, possibly empty. */
    public String add(int tokenId) {
        if (size == ids.length) compactOrGrow();
        ids[size++] = tokenId;
        String prefix = tokenizer.decode(ids, prefixOffset, readOffset, skipSpecialTokens);
        String full = tokenizer.decode(ids, prefixOffset, size, skipSpecialTokens);
        if (full.length() <= prefix.length() || full.endsWith("\uFFFD")) return ""; // nothing new, or a character still incomplete
        String delta = full.substring(prefix.length());
        text.append(delta);
        prefixOffset = readOffset;
        readOffset = size;
        return delta;
    }

    /** All text emitted so far. */
    public String text() { return text.toString(); }

    /** Tokens held for decoding (for tests: stays small however long the sequence gets). */
    int bufferedTokens() { return size; }

    /** Tokens before prefixOffset are never decoded again: drop them rather than growing forever. */
    private void compactOrGrow() {
        if (prefixOffset > ids.length / 2) {
            System.arraycopy(ids, prefixOffset, ids, 0, size - prefixOffset);
            size -= prefixOffset;
            readOffset -= prefixOffset;
            prefixOffset = 0;
        } else {
            ids = Arrays.copyOf(ids, ids.length * 2);
        }
    }
}
