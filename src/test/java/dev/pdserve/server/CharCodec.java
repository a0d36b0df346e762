package dev.pdserve.server;

import dev.pdserve.tokenizer.ChatTemplateInput;

import java.util.List;
import java.util.Map;

/**
 * A tokenizer for protocol tests: one token per character (ids are the char codes, below 256),
 * ids 0..2 are the special tokens BOS, EOS and PAD. Its chat template writes
 * {@code <s>[role]content\n} per message.
 */
final class CharCodec implements TextCodec {
    static final int BOS = 0, EOS = 1;

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        int offset = addSpecialTokens ? 1 : 0;
        int[] ids = new int[text.length() + offset];
        if (addSpecialTokens) ids[0] = BOS;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            ids[i + offset] = c < 256 && c >= 3 ? c : '?';
        }
        return ids;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            if (id < 3) {
                if (!skipSpecialTokens) sb.append(tokenText(id));
            } else {
                sb.append((char) id);
            }
        }
        return sb.toString();
    }

    @Override
    public String tokenText(int id) {
        return switch (id) {
            case 0 -> "<s>";
            case 1 -> "</s>";
            case 2 -> "<pad>";
            default -> String.valueOf((char) id);
        };
    }

    @Override
    public int vocabSize() { return 256; }

    @Override
    public boolean hasChatTemplate() { return true; }

    @Override
    public String applyChatTemplate(ChatTemplateInput input) {
        StringBuilder sb = new StringBuilder();
        boolean addGenerationPrompt = input.addGenerationPrompt();
        for (Map<String, Object> m : input.messages()) sb.append('[').append(m.get("role")).append(']').append(m.get("content")).append('\n');
        if (addGenerationPrompt) sb.append("[assistant]");
        return sb.toString();
    }
}
