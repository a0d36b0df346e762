package dev.pdserve.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A Hugging Face tokenizer: {@code tokenizer.json} run by the Rust {@code tokenizers} library (through
 * DJL's bundled native build, so ids match transformers exactly), the special tokens of
 * {@code tokenizer_config.json} and its chat template. Thread-safe: encode and decode may run
 * concurrently; close waits for calls in flight.
 */
public final class Tokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final HuggingFaceTokenizer rust;
    private final Vocabulary vocab;
    private final String bosToken;
    private final String eosToken;
    private final Map<String, Object> specialTokens; // bos_token, eos_token, ... as templates see them
    private final ChatTemplate chatTemplate;          // null when the model has none
    private final SpecialTokenRule specials;
    private final boolean cleanUpSpaces;            // clean_up_tokenization_spaces
    private final int maxBytesPerToken;               // 0: no bound known
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    /**
     * Which BOS/EOS an encode with special tokens gets, as transformers decides it. Its Llama and
     * Gemma fast tokenizers rebuild tokenizer.json's post-processor from {@code add_bos_token}
     * (default true) and {@code add_eos_token} (default false) ({@code update_post_processor}):
     * {@code REBUILT}, the post-processor is not used. Other classes keep the post-processor and
     * only an explicit {@code add_bos_token: true} is made sure of ({@code ENSURE_BOS}).
     */
    private record SpecialTokenRule(Kind kind, boolean bos, boolean eos) {
        enum Kind { POST_PROCESSOR, REBUILT, ENSURE_BOS }

        static final java.util.Set<String> REBUILDING = java.util.Set.of(
                "LlamaTokenizerFast", "LlamaTokenizer", "CodeLlamaTokenizerFast", "CodeLlamaTokenizer", "GemmaTokenizerFast", "GemmaTokenizer");

        static SpecialTokenRule of(JsonNode config) {
            String cls = config.path("tokenizer_class").asText("");
            JsonNode bos = config.get("add_bos_token"), eos = config.get("add_eos_token");
            if (REBUILDING.contains(cls)) {
                return new SpecialTokenRule(Kind.REBUILT, bos == null || bos.asBoolean(true), eos != null && eos.asBoolean(false));
            }
            if (bos != null && bos.asBoolean(false)) return new SpecialTokenRule(Kind.ENSURE_BOS, true, false);
            return new SpecialTokenRule(Kind.POST_PROCESSOR, false, false);
        }
    }

    private Tokenizer(Path dir, HuggingFaceTokenizer rust, Vocabulary vocab, Map<String, Object> specialTokens, ChatTemplate chatTemplate,
                      int maxBytesPerToken, SpecialTokenRule specials, boolean cleanUpSpaces) {
        this.specials = specials;
        this.cleanUpSpaces = cleanUpSpaces;
        this.dir = dir;
        this.maxBytesPerToken = maxBytesPerToken;
        this.rust = rust;
        this.vocab = vocab;
        this.specialTokens = specialTokens;
        this.bosToken = (String) specialTokens.get("bos_token");
        this.eosToken = (String) specialTokens.get("eos_token");
        this.chatTemplate = chatTemplate;
    }

    /** Reads tokenizer.json, and tokenizer_config.json and chat_template.jinja when present. */
    public static Tokenizer load(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new TokenizerException("no tokenizer.json in " + modelDir + ": pdserve needs a Hugging Face fast tokenizer");
        }
        JsonNode json = readJson(file);
        Vocabulary vocab = Vocabulary.read(json, file);
        JsonNode config = readConfig(modelDir.resolve("tokenizer_config.json"));
        Map<String, Object> specialTokens = new LinkedHashMap<>();
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
            String token = tokenContent(config.get(key));
            if (token != null) specialTokens.put(key, token);
        }
        ChatTemplate template = ChatTemplate.find(modelDir, config);
        return new Tokenizer(modelDir, NativeTokenizers.open(file), vocab, specialTokens, template, InputBound.bytesPerToken(json, vocab),
                SpecialTokenRule.of(config), config.path("clean_up_tokenization_spaces").asBoolean(false));
    }

    /**
     * Token ids of {@code text}; with {@code addSpecialTokens}, BOS and EOS as transformers adds
     * them: tokenizer.json's post-processor, or tokenizer_config.json's {@code add_bos_token} /
     * {@code add_eos_token} where transformers reads those ({@link SpecialTokenRule}).
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text"); // a null reaching the native library aborts the JVM
        long[] ids;
        boolean postProcess = addSpecialTokens && specials.kind() != SpecialTokenRule.Kind.REBUILT;
        lifecycle.readLock().lock();
        try {
            ensureOpen();
            ids = NativeTokenizers.encode(rust, text, postProcess);
        } finally {
            lifecycle.readLock().unlock();
        }
        int bos = bosTokenId(), eos = eosTokenId();
        boolean addBos = addSpecialTokens && specials.bos() && bos >= 0
                && (specials.kind() == SpecialTokenRule.Kind.REBUILT || ids.length == 0 || ids[0] != bos);
        boolean addEos = addSpecialTokens && specials.eos() && eos >= 0;
        int[] out = new int[ids.length + (addBos ? 1 : 0) + (addEos ? 1 : 0)];
        int o = 0;
        if (addBos) out[o++] = bos;
        for (long id : ids) out[o++] = (int) id;
        if (addEos) out[o] = eos;
        return out;
    }

    /**
     * The text of {@code ids}, as transformers' {@code decode}: with {@code clean_up_tokenization_spaces}
     * set in tokenizer_config.json, the spaces before punctuation and English contractions go.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        String text = decode(ids, 0, ids.length, skipSpecialTokens);
        return cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text;
    }

    /** transformers' {@code clean_up_tokenization}. */
    static String cleanUpTokenizationSpaces(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    /**
     * Decodes {@code ids[from, to)} without clean-up (the streaming detokenizer's window, as vLLM's
     * incremental detokenizer, which does not clean up either); bytes of an incomplete UTF-8
     * character come out as U+FFFD, and ids the tokenizer does not have are skipped, as in Rust.
     */
    public String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        Objects.checkFromToIndex(from, to, ids.length);
        long[] window = new long[to - from];
        for (int i = from; i < to; i++) window[i - from] = ids[i];
        lifecycle.readLock().lock();
        try {
            ensureOpen();
            return rust.decode(window, skipSpecialTokens);
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Number of token ids (model vocabulary plus added tokens). */
    public int vocabSize() { return vocab.size(); }

    /** The most input bytes one token stands for, or 0 when tokenizer.json proves no bound ({@link InputBound}). */
    public int maxBytesPerToken() { return maxBytesPerToken; }

    public int bosTokenId() { return vocab.idOf(bosToken); }

    public int eosTokenId() { return vocab.idOf(eosToken); }

    public String bosToken() { return bosToken; }

    public String eosToken() { return eosToken; }

    /** The raw vocabulary piece ("Ġworld", "<｜User｜>"), or null for an id the tokenizer does not have. */
    public String tokenText(int id) { return vocab.piece(id); }

    /** True for added tokens marked special: these are what {@code skipSpecialTokens} drops. */
    public boolean isSpecial(int id) { return vocab.isSpecial(id); }

    public boolean hasChatTemplate() { return chatTemplate != null; }

    /**
     * Renders {@code messages} (maps with "role", "content", ...) with the model's chat template, as
     * transformers' {@code apply_chat_template(tokenize=False)} does. {@code extraVars} (tools, documents,
     * template kwargs such as enable_thinking) become template variables.
     */
    @SuppressWarnings("unchecked")
    public String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> extraVars) {
        Map<String, Object> kwargs = new HashMap<>(extraVars == null ? Map.of() : extraVars);
        Object tools = kwargs.remove("tools"), documents = kwargs.remove("documents");
        return applyChatTemplate(new ChatTemplateInput(messages, (List<Object>) tools, (List<Object>) documents,
                addGenerationPrompt, false, kwargs, null));
    }

    /**
     * transformers' {@code apply_chat_template(tokenize=False)}: the template (the request's, else the
     * model's) gets the special tokens, the kwargs, then messages, tools, documents and
     * add_generation_prompt; with continue_final_message the text ends where the last message does.
     *
     * @throws ChatTemplateException when the template refuses or fails on this input (the request's fault)
     */
    public String applyChatTemplate(ChatTemplateInput in) {
        ChatTemplate template = in.chatTemplate() != null ? new ChatTemplate(in.chatTemplate(), "the request") : chatTemplate;
        if (template == null) {
            throw new TokenizerException("the model in " + dir + " has no chat template (no chat_template in "
                    + "tokenizer_config.json and no chat_template.jinja): use completions, or give a template");
        }
        if (in.continueFinalMessage() && in.addGenerationPrompt()) {
            throw new ChatTemplateException("continue_final_message and add_generation_prompt are not compatible. Use "
                    + "continue_final_message when you want the model to continue the final message, and add_generation_prompt "
                    + "when you want to add a header that will prompt it to start a new assistant message instead.", false);
        }
        Map<String, Object> vars = new HashMap<>(specialTokens);
        vars.putAll(in.kwargs());
        vars.put("messages", in.messages());
        vars.put("tools", in.tools());
        vars.put("documents", in.documents());
        vars.put("add_generation_prompt", in.addGenerationPrompt());
        String text = template.render(vars);
        return in.continueFinalMessage() ? endInsideFinalMessage(text, in.messages()) : text;
    }

    /** transformers' continue_final_message: cut the text after the last message's content. */
    private static String endInsideFinalMessage(String text, List<Map<String, Object>> messages) {
        Object content = messages.isEmpty() ? null : messages.getLast().get("content");
        if (content instanceof List<?> parts) {
            content = null;
            for (Object part : parts.reversed()) {
                if (part instanceof Map<?, ?> m && m.containsKey("text")) { content = m.get("text"); break; }
            }
            if (content == null) throw new ChatTemplateException("continue_final_message is set but we could not find any text to continue in the final message!", false);
        }
        String last = content == null ? "" : content.toString();
        int at = text.lastIndexOf(last.strip());
        if (at < 0) {
            throw new ChatTemplateException("continue_final_message is set but the final message does not appear in the chat after "
                    + "applying the chat template! This can happen if the chat template deletes portions of the final message. "
                    + "Please verify the chat template and final message in your chat to ensure they are compatible.", false);
        }
        String leftStripped = last.stripLeading();
        // transformers: rendered[at : at + len(final.lstrip())] == final means the template kept the message's spacing
        boolean kept = text.substring(at, Math.min(text.length(), at + leftStripped.length())).equals(last);
        return text.substring(0, at + (kept ? leftStripped.length() : last.strip().length()));
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (!closed) rust.close();
            closed = true;
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("tokenizer of " + dir + " is closed");
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(Files.readString(file));
        } catch (JacksonException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            String why = e.getOriginalMessage().replaceAll("\\s*\\(start marker at .*$", "");
            throw new TokenizerException(file + " is not valid JSON" + where + ": " + why);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e);
        }
    }

    private static JsonNode readConfig(Path file) {
        return Files.isRegularFile(file) ? readJson(file) : JSON.createObjectNode();
    }

    /** A special token in tokenizer_config.json is a string or an AddedToken object {"content": ...}. */
    private static String tokenContent(JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        JsonNode content = node.get("content");
        return content != null && content.isTextual() ? content.asText() : null;
    }
}
