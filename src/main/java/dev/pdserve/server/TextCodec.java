package dev.pdserve.server;

import dev.pdserve.tokenizer.ChatTemplateException;
import dev.pdserve.tokenizer.ChatTemplateInput;
import dev.pdserve.tokenizer.Tokenizer;

/** What the API needs from a tokenizer: text to ids and back, one token's text, the chat template. */
public interface TextCodec {
    int[] encode(String text, boolean addSpecialTokens);

    String decode(int[] ids, boolean skipSpecialTokens);

    /** One token as text, as logprobs report it. */
    String tokenText(int id);

    int vocabSize();

    /** The most input bytes one token stands for, or 0 when unknown (then no text is refused by its length alone). */
    default int maxBytesPerToken() { return 0; }

    boolean hasChatTemplate();

    /** The conversation as the template renders it; a {@link ChatTemplateException} is the request's fault. */
    String applyChatTemplate(ChatTemplateInput input);

    static TextCodec of(Tokenizer t) {
        return new TextCodec() {
            @Override public int[] encode(String text, boolean addSpecialTokens) { return t.encode(text, addSpecialTokens); }
            @Override public String decode(int[] ids, boolean skipSpecialTokens) { return t.decode(ids, skipSpecialTokens); }
            // One token's own text: no clean-up of spaces, which would eat a token's leading space.
            @Override public String tokenText(int id) { return t.decode(new int[] {id}, 0, 1, false); }
            @Override public int vocabSize() { return t.vocabSize(); }
            @Override public int maxBytesPerToken() { return t.maxBytesPerToken(); }
            @Override public boolean hasChatTemplate() { return t.hasChatTemplate(); }
            @Override public String applyChatTemplate(ChatTemplateInput input) { return t.applyChatTemplate(input); }
        };
    }
}
