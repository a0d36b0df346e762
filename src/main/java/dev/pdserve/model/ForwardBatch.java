package dev.pdserve.model;

import java.util.Arrays;

/**
 * The layout of one step: the new tokens of several sequences back to back (prefill chunks and
 * single decode tokens alike), where each goes in the KV cache, and each sequence's block table.
 * Reused across steps: {@link #clear()} then {@link #addSequence} per sequence.
 */
public final class ForwardBatch {
    public int numTokens;
    public int[] tokenIds = new int[64];
    public int[] positions = new int[64];
    /** Cache slot each new token's KV goes to: {@code block * blockSize + position % blockSize}. */
    public int[] slots = new int[64];

    public int numSeqs;
    /** Offsets of each sequence's tokens; sequence s owns tokens [seqStart[s], seqStart[s+1]). */
    public int[] seqStart = new int[17];
    /** Tokens of the sequence in the cache once this step ran (its last new position + 1). */
    public int[] contextLen = new int[16];
    public int[][] blockTables = new int[16][];
    /** How many of the sequence's last new tokens get a logits row (0; 1 to sample; k + 1 to verify k drafts; every new token's for prompt logprobs). */
    public int[] logitRows = new int[16];
    public int numLogitRows;

    public void clear() {
        numTokens = 0;
        numSeqs = 0;
        numLogitRows = 0;
        seqStart[0] = 0;
    }

    /**
     * Adds {@code count} tokens of one sequence, the first at position {@code startPos}; the
     * sequence's earlier positions must already be in the cache under {@code blockTable}.
     */
    public void addSequence(int[] tokens, int from, int count, int startPos, int[] blockTable, int blockSize, boolean logits) {
        addSequence(tokens, from, count, startPos, blockTable, blockSize, logits ? 1 : 0);
    }

    /** As above, with logits rows for the last {@code rows} of the {@code count} new tokens. */
    public void addSequence(int[] tokens, int from, int count, int startPos, int[] blockTable, int blockSize, int rows) {
        if (rows < 0 || rows > count) throw new IllegalArgumentException("logit rows " + rows + " outside [0, " + count + "]");
        ensureTokens(numTokens + count);
        ensureSeqs(numSeqs + 1);
        for (int i = 0; i < count; i++) {
            int pos = startPos + i;
            tokenIds[numTokens + i] = tokens[from + i];
            positions[numTokens + i] = pos;
            slots[numTokens + i] = blockTable[pos / blockSize] * blockSize + pos % blockSize;
        }
        numTokens += count;
        contextLen[numSeqs] = startPos + count;
        blockTables[numSeqs] = blockTable;
        logitRows[numSeqs] = rows;
        numLogitRows += rows;
        numSeqs++;
        seqStart[numSeqs] = numTokens;
    }

    private void ensureTokens(int n) {
        if (n <= tokenIds.length) return;
        int cap = Math.max(n, tokenIds.length * 2);
        tokenIds = Arrays.copyOf(tokenIds, cap);
        positions = Arrays.copyOf(positions, cap);
        slots = Arrays.copyOf(slots, cap);
    }

    private void ensureSeqs(int n) {
        if (n <= contextLen.length) return;
        int cap = Math.max(n, contextLen.length * 2);
        seqStart = Arrays.copyOf(seqStart, cap + 1);
        contextLen = Arrays.copyOf(contextLen, cap);
        blockTables = Arrays.copyOf(blockTables, cap);
        logitRows = Arrays.copyOf(logitRows, cap);
    }
}
