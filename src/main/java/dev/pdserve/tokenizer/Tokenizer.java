package dev.pdserve.tokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Placeholder of the tokenizer API (being built on branch `tokenizer`); this file is replaced when it lands. */
public final class Tokenizer implements AutoCloseable {
    private Tokenizer() {}

    public static Tokenizer load(Path modelDir) { throw new UnsupportedOperationException("tokenizer not built yet"); }

    public int[] encode(String text, boolean addSpecialTokens) { throw new UnsupportedOperationException(); }

    public String decode(int[] ids, boolean skipSpecialTokens) { throw new UnsupportedOperationException(); }

    public String decode(int[] ids, int from, int to, boolean skipSpecialTokens) { throw new UnsupportedOperationException(); }

    public int vocabSize() { throw new UnsupportedOperationException(); }

    public int bosTokenId() { throw new UnsupportedOperationException(); }

    public int eosTokenId() { throw new UnsupportedOperationException(); }

    public String bosToken() { throw new UnsupportedOperationException(); }

    public String eosToken() { throw new UnsupportedOperationException(); }

    public String tokenText(int id) { throw new UnsupportedOperationException(); }

    public boolean isSpecial(int id) { throw new UnsupportedOperationException(); }

    public boolean hasChatTemplate() { throw new UnsupportedOperationException(); }

    public String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> extraVars) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
}
