package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;

/**
 * What constrained decoding needs to know of a tokenizer: the exact bytes each token id puts into
 * the output, which ids end the output (EOS), and a trie over all token bytes. Added tokens
 * (special or not), ids the tokenizer lacks (a model's padded vocabulary rows) and empty tokens
 * have no bytes and are never allowed; EOS is allowed only where the output is complete.
 */
public final class TokenVocabulary {
    /** How a tokenizer's pieces map to bytes, from its tokenizer.json decoder. */
    public enum Kind {
        /** GPT-2 style byte-level BPE: every piece character stands for one byte ("Ġ" is a space). */
        BYTE_LEVEL,
        /** SentencePiece: "▁" is a space, {@code <0xNN>} is the byte NN, the rest is UTF-8 text. */
        SENTENCEPIECE,
        /** Pieces are the text itself. */
        RAW
    }

    private final int size;
    private final byte[][] bytes;
    private final int[] eosIds;
    private final BitSet eos = new BitSet();
    final VocabTrie trie;

    private TokenVocabulary(int size, byte[][] bytes, int[] eosIds) {
        this.size = size;
        this.bytes = bytes;
        this.eosIds = eosIds.clone();
        for (int e : eosIds) if (e >= 0 && e < size) eos.set(e);
        for (int e : eosIds) if (e >= 0 && e < size) bytes[e] = null;
        this.trie = new VocabTrie(bytes);
    }

    /**
     * Token bytes of the tokenizer in {@code modelDir}. {@code modelVocabSize} is the width of the
     * model's logits row (it may exceed the tokenizer's ids); {@code eosIds} are the model's EOS ids.
     */
    public static TokenVocabulary load(Tokenizer tokenizer, Path modelDir, int modelVocabSize, int[] eosIds) {
        Path file = modelDir.resolve("tokenizer.json");
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
        Kind kind = kindOf(json);
        BitSet added = new BitSet();
        for (JsonNode t : json.path("added_tokens")) added.set(t.path("id").asInt());
        int size = Math.max(modelVocabSize, tokenizer.vocabSize());
        byte[][] bytes = new byte[size][];
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            String piece = tokenizer.tokenText(id);
            // Added tokens are the tokenizer's control vocabulary (chat and tool markers, even those not
            // marked special, as DeepSeek-V3's <｜User｜>): never text. Their bytes stay reachable through ordinary pieces.
            if (piece == null || tokenizer.isSpecial(id) || added.get(id)) continue;
            bytes[id] = pieceBytes(piece, kind);
        }
        return new TokenVocabulary(modelVocabSize, Arrays.copyOf(bytes, modelVocabSize), eosIds);
    }

    /** A vocabulary given as bytes per id (null for ids that never appear in text). */
    public static TokenVocabulary of(byte[][] tokenBytes, int[] eosIds) {
        byte[][] copy = new byte[tokenBytes.length][];
        for (int i = 0; i < copy.length; i++) copy[i] = tokenBytes[i] == null ? null : tokenBytes[i].clone();
        return new TokenVocabulary(copy.length, copy, eosIds);
    }

    static Kind kindOf(JsonNode tokenizerJson) {
        String decoder = tokenizerJson.path("decoder").toString();
        if (decoder.contains("\"ByteLevel\"")) return Kind.BYTE_LEVEL;
        if (decoder.contains("\"ByteFallback\"") || decoder.contains("\"Metaspace\"") || decoder.contains("\u2581")) return Kind.SENTENCEPIECE;
        return Kind.RAW;
    }

    /** The bytes a model-vocabulary piece stands for. */
    static byte[] pieceBytes(String piece, Kind kind) {
        return switch (kind) {
            case BYTE_LEVEL -> {
                byte[] out = new byte[piece.length()];
                for (int i = 0; i < piece.length(); i++) {
                    int b = ByteLevel.byteOf(piece.charAt(i));
                    if (b < 0) yield piece.getBytes(StandardCharsets.UTF_8); // not a byte-level piece: literal text
                    out[i] = (byte) b;
                }
                yield out;
            }
            case SENTENCEPIECE -> {
                if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
                    try {
                        yield new byte[] {(byte) Integer.parseInt(piece.substring(3, 5), 16)};
                    } catch (NumberFormatException e) {
                        // an ordinary piece that merely looks like a byte token
                    }
                }
                yield piece.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
            }
            case RAW -> piece.getBytes(StandardCharsets.UTF_8);
        };
    }

    /** Width of a logits row and of a mask, in token ids. */
    public int size() { return size; }

    /** Number of 64-bit words a mask of this vocabulary takes. */
    public int maskWords() { return (size + 63) >>> 6; }

    /** The bytes token {@code id} writes, or null when it never may be sampled as text (special, EOS, unknown). */
    public byte[] tokenBytes(int id) { return id >= 0 && id < size ? bytes[id] : null; }

    byte[] bytesUnsafe(int id) { return bytes[id]; }

    public boolean isEos(int id) { return eos.get(id); }

    int[] eosIds() { return eosIds; }

    /** The GPT-2 byte-to-unicode table, inverted. */
    static final class ByteLevel {
        private static final int[] BYTE_OF = new int[324];

        static {
            Arrays.fill(BYTE_OF, -1);
            int n = 0;
            for (int b = 0; b < 256; b++) {
                boolean visible = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                BYTE_OF[visible ? b : 256 + n++] = b;
            }
        }

        static int byteOf(char c) { return c < BYTE_OF.length ? BYTE_OF[c] : -1; }
    }
}
