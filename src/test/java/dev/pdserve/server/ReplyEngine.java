package dev.pdserve.server;

import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.EngineStats;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.InferenceEngine;
import dev.pdserve.engine.OutputSink;
import dev.pdserve.engine.RequestOutput;
import dev.pdserve.model.CausalLM;
import dev.pdserve.tokenizer.Tokenizer;

import dev.pdserve.tokenizer.ChatTemplateInput;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An engine that answers every request with the text {@link #reply} (what a model trained for tool
 * calling would write), a few characters per output so streams have many chunks, then EOS. Its
 * codec is {@link CharCodec}, recording what the chat template was given ({@link #templateCalls}).
 */
final class ReplyEngine implements InferenceEngine {
    volatile String reply = "";
    final List<Map<String, Object>> templateCalls = new CopyOnWriteArrayList<>();
    final List<GenerationRequest> submitted = new CopyOnWriteArrayList<>();
    private final EngineConfig config = EngineConfig.defaults(4096);
    private final CharCodec chars = new CharCodec();

    /** CharCodec whose template call is recorded (messages and extra variables such as tools). */
    final TextCodec codec = new TextCodec() {
        @Override public int[] encode(String text, boolean addSpecialTokens) { return chars.encode(text, addSpecialTokens); }
        @Override public String decode(int[] ids, boolean skipSpecialTokens) { return chars.decode(ids, skipSpecialTokens); }
        @Override public String tokenText(int id) { return chars.tokenText(id); }
        @Override public int vocabSize() { return chars.vocabSize(); }
        @Override public boolean hasChatTemplate() { return true; }
        @Override public String applyChatTemplate(ChatTemplateInput input) {
            Map<String, Object> extra = new java.util.HashMap<>(input.kwargs());
            if (input.tools() != null) extra.put("tools", input.tools());
            templateCalls.add(Map.of("messages", input.messages(), "extra", extra));
            return chars.applyChatTemplate(input);
        }
    };

    @Override
    public void submit(GenerationRequest r, OutputSink sink) {
        r.validate(chars.vocabSize(), config.maxModelLen());
        submitted.add(r);
        String text = reply;
        Thread.ofVirtual().start(() -> {
            int n = 0;
            for (int i = 0; i < text.length(); i += 3, n++) {
                String piece = text.substring(i, Math.min(text.length(), i + 3));
                sink.accept(RequestOutput.token(r.requestId(), piece.charAt(0), piece, null, r.promptIds().length, n + 1, 0, 0));
            }
            sink.accept(RequestOutput.token(r.requestId(), CharCodec.EOS, "", null, r.promptIds().length, n + 1, 0, 0)
                    .finish(FinishReason.STOP, null, null));
        });
    }

    @Override public void abort(String requestId) {}

    @Override public EngineStats stats() { return new EngineStats(0, 0, 0, 1, 0, 0, 0, 0, 0, 0); }

    @Override public EngineConfig config() { return config; }

    @Override public CausalLM model() { return null; }

    @Override public Tokenizer tokenizer() { return null; }

    @Override public void drain() {}

    @Override public void close() {}
}
