package dev.pdserve.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * The most bytes of input text one token can stand for, when tokenizer.json proves a bound: then
 * a text of more than {@code maxModelLen * bound} bytes has more than maxModelLen tokens, and a
 * server can refuse it without tokenizing it. A vocabulary piece's UTF-8 length bounds what it
 * covers (a byte-level piece spells each byte as one or two bytes, SentencePiece's {@code ▁} is
 * three bytes for one space, {@code <0xNN>} six for one) and an unknown token stands for one
 * character (at most 4 bytes). That holds only while nothing before the model deletes or
 * shrinks text, so any normalizer or pre-tokenizer not known to keep every byte, a model other
 * than BPE, or BPE that fuses unknown characters, leaves no bound (0).
 */
final class InputBound {
    private static final Set<String> KEEPING_NORMALIZERS = Set.of("NFC", "NFD", "Prepend", "Replace");
    private static final Set<String> KEEPING_PRE_TOKENIZERS = Set.of("ByteLevel", "Metaspace", "Split", "Digits", "Punctuation");

    private InputBound() {}

    static int bytesPerToken(JsonNode tokenizerJson, Vocabulary vocab) {
        if (!keeps(tokenizerJson.get("normalizer"), "normalizers", KEEPING_NORMALIZERS)) return 0;
        if (!keeps(tokenizerJson.get("pre_tokenizer"), "pretokenizers", KEEPING_PRE_TOKENIZERS)) return 0;
        JsonNode model = tokenizerJson.path("model");
        if (!model.path("type").asText("BPE").equals("BPE") || model.path("fuse_unk").asBoolean(false)) return 0;
        int max = 4;
        for (int id = 0; id < vocab.size(); id++) {
            String piece = vocab.piece(id);
            if (piece != null) max = Math.max(max, piece.getBytes(StandardCharsets.UTF_8).length);
        }
        return max;
    }

    private static boolean keeps(JsonNode step, String listField, Set<String> keeping) {
        if (step == null || step.isNull()) return true;
        String type = step.path("type").asText("");
        if (type.equals("Sequence")) {
            for (JsonNode s : step.path(listField)) if (!keeps(s, listField, keeping)) return false;
            return true;
        }
        if (!keeping.contains(type)) return false;
        // Removed matches (or a Replace to something shorter) would delete input.
        if (step.path("behavior").asText("").equalsIgnoreCase("Removed")) return false;
        if (type.equals("Replace")) {
            JsonNode pattern = step.path("pattern").path("String");
            return pattern.isTextual() && step.path("content").asText("").getBytes(StandardCharsets.UTF_8).length
                    >= pattern.asText().getBytes(StandardCharsets.UTF_8).length;
        }
        return true;
    }
}
