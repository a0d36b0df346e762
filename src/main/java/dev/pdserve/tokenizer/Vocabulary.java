package dev.pdserve.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/** Id to piece, and which ids are special, read from tokenizer.json (the Rust library does not expose them). */
final class Vocabulary {
    private final String[] pieces;
    private final BitSet special;
    private final Map<String, Integer> ids;

    private Vocabulary(String[] pieces, BitSet special, Map<String, Integer> ids) {
        this.pieces = pieces;
        this.special = special;
        this.ids = ids;
    }

    static Vocabulary read(JsonNode root, Path file) {
        JsonNode vocab = root.path("model").path("vocab");
        Map<String, Integer> ids = new HashMap<>();
        if (vocab.isObject()) { // BPE, WordPiece, WordLevel: {"piece": id}
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                ids.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab.isArray()) { // Unigram: [["piece", score], ...], id = position
            for (int i = 0; i < vocab.size(); i++) ids.put(vocab.get(i).path(0).asText(), i);
        } else {
            throw new TokenizerException(file + " has no model.vocab: not a Hugging Face tokenizer.json");
        }
        BitSet special = new BitSet();
        for (JsonNode added : root.path("added_tokens")) {
            int id = added.path("id").asInt(-1);
            String content = added.path("content").asText(null);
            if (id < 0 || content == null) throw new TokenizerException(file + " has an added token without id or content: " + added);
            ids.put(content, id);
            if (added.path("special").asBoolean(false)) special.set(id);
        }
        int size = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        String[] pieces = new String[size];
        ids.forEach((piece, id) -> { if (id >= 0) pieces[id] = piece; });
        return new Vocabulary(pieces, special, ids);
    }

    int size() { return pieces.length; }

    String piece(int id) { return id >= 0 && id < pieces.length ? pieces[id] : null; }

    boolean isSpecial(int id) { return id >= 0 && special.get(id); }

    int idOf(String piece) {
        if (piece == null) return -1;
        Integer id = ids.get(piece);
        return id == null ? -1 : id;
    }
}
