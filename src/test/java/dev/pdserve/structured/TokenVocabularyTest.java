package dev.pdserve.structured;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Token bytes against what the Rust tokenizers library decodes. */
class TokenVocabularyTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void byteLevelBytesAgreeWithTheDecoderOnTheTinyTokenizer() {
        assertAgreesWithDecoder(StructuredFixtures.tinyTokenizer(), StructuredFixtures.tiny());
        assertThat(StructuredFixtures.tiny().size()).isEqualTo(StructuredFixtures.modelVocab(TestModels.deepseek()));
    }

    @Test
    void byteLevelBytesAgreeWithTheDecoderOnDeepSeekV3() {
        int split = assertAgreesWithDecoder(StructuredFixtures.v3Tokenizer(), StructuredFixtures.v3());
        assertThat(split).as("pieces that are not whole UTF-8 (they split a character)").isGreaterThan(1000);
        assertThat(StructuredFixtures.v3().size()).isEqualTo(129280);
    }

    /** Returns how many tokens are not valid UTF-8 on their own. */
    private static int assertAgreesWithDecoder(Tokenizer tok, TokenVocabulary v) {
        int checked = 0, split = 0;
        for (int id = 0; id < tok.vocabSize(); id++) {
            byte[] b = v.tokenBytes(id);
            if (b == null) continue;
            String s = strictUtf8(b);
            if (s == null) { split++; continue; }
            assertThat(tok.decode(new int[] {id}, false)).as("token %d", id).isEqualTo(s);
            checked++;
        }
        assertThat(checked).isGreaterThan(tok.vocabSize() * 8 / 10);
        // Texts whose characters come out in pieces: the pieces' bytes concatenate to the text.
        for (String text : List.of("日本語の文章です。", "naïve café — ½ ∑ 😀🎉", "Ελληνικά и кириллица", "{\"k\": [1, 2.5e-3, \"\\n\"]}", "  \t\n\n  x")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int id : tok.encode(text, false)) out.writeBytes(v.tokenBytes(id));
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(text);
        }
        return split;
    }

    @Test
    void eosAndAddedTokensHaveNoBytes() {
        TokenVocabulary v = StructuredFixtures.tiny();
        assertThat(v.isEos(1)).isTrue();
        for (int id = 0; id <= 4; id++) assertThat(v.tokenBytes(id)).as("added token %d", id).isNull();
        assertThat(v.tokenBytes(v.size())).isNull();
        assertThat(v.tokenBytes(-1)).isNull();
    }

    /** A SentencePiece-style tokenizer.json (as Llama 2's and Mistral's): "▁" for spaces, {@code <0xNN>} byte pieces. */
    @Test
    void sentencePiecePiecesAgreeWithTheDecoder(@TempDir Path dir) throws Exception {
        ObjectNode vocab = JSON.createObjectNode();
        List<String> pieces = new java.util.ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        for (int b = 0; b < 256; b++) pieces.add(String.format("<0x%02X>", b));
        pieces.addAll(List.of("\u2581", "\u2581hello", "hello", "x", "\u2581world", "\u00e9", "\u65e5\u672c", "\u2581\u2581", "<0xZZ>", "a\u2581b"));
        for (int i = 0; i < pieces.size(); i++) vocab.put(pieces.get(i), i);
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        var added = root.putArray("added_tokens");
        for (int i = 0; i < 3; i++) {
            added.addObject().put("id", i).put("content", pieces.get(i)).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.set("normalizer", JSON.readTree("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\u2581\"},"
                + "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"}]}"));
        root.putNull("pre_tokenizer");
        root.putNull("post_processor");
        root.set("decoder", JSON.readTree("{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\u2581\"},\"content\":\" \"},"
                + "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}"));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.put("unk_token", "<unk>").putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        model.set("vocab", vocab);
        model.putArray("merges");
        Files.writeString(dir.resolve("tokenizer.json"), root.toString());
        try (Tokenizer tok = Tokenizer.load(dir)) {
            TokenVocabulary v = TokenVocabulary.load(tok, dir, pieces.size(), new int[] {2});
            assertThat(TokenVocabulary.kindOf(root)).isEqualTo(TokenVocabulary.Kind.SENTENCEPIECE);
            int anchor = pieces.indexOf("x");
            String before = tok.decode(new int[] {anchor}, false);
            for (int id = 3; id < pieces.size(); id++) {
                String s = strictUtf8(v.tokenBytes(id));
                if (s == null) continue;
                assertThat(before + s).as("piece %s", pieces.get(id)).isEqualTo(tok.decode(new int[] {anchor, id}, false));
            }
            assertThat(v.tokenBytes(pieces.indexOf("<0xE6>"))).containsExactly(0xE6);
            assertThat(v.tokenBytes(pieces.indexOf("\u2581hello"))).isEqualTo(" hello".getBytes(StandardCharsets.UTF_8));
            // 日 from three byte pieces, as the decoder puts them together.
            int[] ids = {anchor, pieces.indexOf("<0xE6>"), pieces.indexOf("<0x97>"), pieces.indexOf("<0xA5>")};
            assertThat(tok.decode(ids, false)).isEqualTo("x\u65e5");
        }
    }

    private static String strictUtf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
