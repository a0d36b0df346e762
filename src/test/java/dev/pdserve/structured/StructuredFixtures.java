package dev.pdserve.structured;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.GZIPInputStream;

/** Real tokenizers for the structured-output tests, loaded once per test JVM. */
final class StructuredFixtures {
    private StructuredFixtures() {}

    private static Tokenizer tinyTokenizer, v3Tokenizer;
    private static TokenVocabulary tiny, v3;

    /** models/deepseek-v3-tiny: byte-level BPE, 4096 ids, EOS 1. */
    static synchronized Tokenizer tinyTokenizer() {
        if (tinyTokenizer == null) tinyTokenizer = Tokenizer.load(TestModels.deepseek());
        return tinyTokenizer;
    }

    static synchronized TokenVocabulary tiny() {
        if (tiny == null) tiny = TokenVocabulary.load(tinyTokenizer(), TestModels.deepseek(), modelVocab(TestModels.deepseek()), new int[] {1});
        return tiny;
    }

    /** DeepSeek-V3's real tokenizer (128k byte-level BPE pieces), 129,280 logits rows, EOS 1. */
    static synchronized Tokenizer v3Tokenizer() {
        if (v3Tokenizer == null) v3Tokenizer = Tokenizer.load(deepseekV3Dir());
        return v3Tokenizer;
    }

    static synchronized TokenVocabulary v3() {
        if (v3 == null) v3 = TokenVocabulary.load(v3Tokenizer(), deepseekV3Dir(), 129280, new int[] {1});
        return v3;
    }

    /** The fixture unpacked into a temporary folder (the gzip keeps the repository small). */
    static Path deepseekV3Dir() {
        try {
            Path src = TestModels.repo().resolve("src/test/resources/structured/deepseek-v3");
            Path dir = Files.createTempDirectory("pdserve-deepseek-v3-tokenizer");
            dir.toFile().deleteOnExit();
            try (InputStream in = new GZIPInputStream(Files.newInputStream(src.resolve("tokenizer.json.gz")))) {
                Files.copy(in, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
            }
            Files.copy(src.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
            dir.resolve("tokenizer.json").toFile().deleteOnExit();
            dir.resolve("tokenizer_config.json").toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int modelVocab(Path modelDir) {
        try {
            return new ObjectMapper().readTree(modelDir.resolve("config.json").toFile()).path("vocab_size").asInt();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static CompiledConstraint compile(TokenVocabulary vocab, Constraint c) { return new StructuredOutputs(vocab).compile(c); }
}
