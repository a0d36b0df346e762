package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.TokenLogprob;
import dev.pdserve.toolcall.ToolCallParser;
import dev.pdserve.toolcall.ToolCallStream;

import java.util.List;

/**
 * The JSON of responses and stream chunks for completions ({@code text_completion}) and chat
 * ({@code chat.completion}, {@code chat.completion.chunk}), field for field as vLLM writes them.
 */
final class ResponseFormat {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final ApiRequest request;
    private final String id;
    private final long created;
    private final String model;
    private final LogprobsFormat logprobs;

    ResponseFormat(ApiRequest request, String id, String model, TextCodec codec) {
        this.request = request;
        this.id = id;
        this.created = System.currentTimeMillis() / 1000;
        this.model = model;
        this.logprobs = new LogprobsFormat(codec, request.returnTokensAsTokenIds());
    }

    private boolean chat() { return request.kind() == ApiRequest.Kind.CHAT; }

    private ObjectNode envelope(String object) {
        ObjectNode o = F.objectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model);
        return o;
    }

    static ObjectNode usage(List<Choice> choices, int n) {
        long prompt = 0, completion = 0, cached = 0;
        for (Choice c : choices) {
            // A prompt counts once however many choices (n) sample from it, as in vLLM.
            if (c.index % n == 0) {
                prompt += c.promptTokens;
                cached += c.cachedTokens;
            }
            completion += c.completionTokens;
        }
        ObjectNode u = F.objectNode();
        u.put("prompt_tokens", prompt);
        u.put("total_tokens", prompt + completion);
        u.put("completion_tokens", completion);
        u.putObject("prompt_tokens_details").put("cached_tokens", cached);
        return u;
    }

    /** The whole (non-streaming) response. */
    ObjectNode full(List<Choice> choices) {
        ObjectNode o = envelope(chat() ? "chat.completion" : "text_completion");
        ArrayNode arr = o.putArray("choices");
        for (Choice c : choices) {
            ObjectNode ch = arr.addObject();
            ch.put("index", c.index);
            if (chat()) {
                ObjectNode msg = ch.putObject("message");
                msg.put("role", "assistant");
                ArrayNode calls = F.arrayNode();
                String content = c.text.toString();
                if (c.tools != null) {
                    c.tools.update(content, true);
                    ToolCallParser.Scan scan = c.tools.scan();
                    content = scan.content();
                    for (int i = 0; i < scan.calls().size(); i++) {
                        ToolCallParser.Call call = scan.calls().get(i);
                        if (!call.complete()) continue;
                        ObjectNode tc = calls.addObject().put("id", c.tools.ids().get(i)).put("type", "function");
                        tc.putObject("function").put("name", call.name()).put("arguments", call.arguments());
                    }
                }
                if (content.isEmpty() && !calls.isEmpty()) msg.putNull("content"); else msg.put("content", content);
                msg.set("tool_calls", calls);
                putLogprobs(ch, c.logprobs, 0);
            } else {
                ch.put("text", c.text.toString());
                putLogprobs(ch, c.logprobs, 0);
            }
            ch.put("finish_reason", finishReason(c, chat() && !ch.path("message").path("tool_calls").isEmpty()));
            putStopReason(ch, c);
            if (!chat()) putPromptLogprobs(ch, c);
        }
        // vLLM's chat response has one prompt_logprobs, beside the choices.
        if (chat() && !choices.isEmpty()) putPromptLogprobs(o, choices.get(0));
        o.set("usage", usage(choices, request.n()));
        putKvTransferParams(o, choices);
        return o;
    }

    /** The first chunk of a chat choice: the assistant role, no content yet (as vLLM and OpenAI send). */
    ObjectNode roleChunk(Choice c) {
        ObjectNode o = envelope("chat.completion.chunk");
        ObjectNode ch = o.putArray("choices").addObject();
        ch.put("index", c.index);
        ch.putObject("delta").put("role", "assistant").put("content", "");
        ch.putNull("logprobs");
        ch.putNull("finish_reason");
        return o;
    }

    /** A chunk with one choice's new text (and logprobs), and its finish reason on the last one. */
    ObjectNode deltaChunk(Choice c, String textDelta, ToolCallStream.Delta tools, List<TokenLogprob> newLogprobs, boolean last, List<Choice> all) {
        ObjectNode o = envelope(chat() ? "chat.completion.chunk" : "text_completion");
        ObjectNode ch = o.putArray("choices").addObject();
        ch.put("index", c.index);
        boolean toolDeltas = tools != null && !tools.calls().isEmpty();
        if (chat()) {
            ObjectNode delta = ch.putObject("delta");
            if (!textDelta.isEmpty() || (!last && !toolDeltas)) delta.put("content", textDelta);
            if (toolDeltas) putToolCallDeltas(delta, tools);
        } else {
            ch.put("text", textDelta);
        }
        putLogprobs(ch, newLogprobs, c.streamedTextOffset);
        if (last) ch.put("finish_reason", finishReason(c, c.tools != null && !c.tools.ids().isEmpty())); else ch.putNull("finish_reason");
        if (last) putStopReason(ch, c); else ch.putNull("stop_reason");
        if (request.continuousUsage()) o.set("usage", usage(all, request.n()));
        // The final chunk carries what the KV connector produced, as in the whole response.
        if (last) putKvTransferParams(o, List.of(c));
        return o;
    }

    /** OpenAI's tool call deltas: the first piece of a call has its id, type and name; later ones only arguments. */
    private static void putToolCallDeltas(ObjectNode delta, ToolCallStream.Delta tools) {
        ArrayNode arr = delta.putArray("tool_calls");
        for (ToolCallStream.CallDelta d : tools.calls()) {
            ObjectNode tc = arr.addObject().put("index", d.index());
            if (d.id() != null) tc.put("id", d.id()).put("type", "function");
            ObjectNode fn = tc.putObject("function");
            if (d.name() != null) fn.put("name", d.name());
            fn.put("arguments", d.arguments());
        }
    }

    /** "tool_calls" when the output was read as tool calls and ended normally (not for a named tool_choice, as vLLM). */
    private String finishReason(Choice c, boolean calledTools) {
        boolean toolCalls = calledTools && c.finishReason == FinishReason.STOP && request.tools() != null && request.tools().callsFinishAsToolCalls();
        return toolCalls ? "tool_calls" : c.finishReason.apiName;
    }

    /** The last chunk when {@code stream_options.include_usage}: no choices, the totals. */
    ObjectNode usageChunk(List<Choice> choices) {
        ObjectNode o = envelope(chat() ? "chat.completion.chunk" : "text_completion");
        o.putArray("choices");
        o.set("usage", usage(choices, request.n()));
        return o;
    }

    private void putLogprobs(ObjectNode choice, List<TokenLogprob> tokens, int textOffset) {
        if (request.logprobs() == null) {
            choice.putNull("logprobs");
        } else if (chat()) {
            choice.set("logprobs", logprobs.chat(tokens, request.logprobs()));
        } else {
            choice.set("logprobs", logprobs.completion(tokens, request.logprobs(), textOffset));
        }
    }

    /** The {@code prompt_logprobs} field when the request asked for it (vLLM's extension), null when it is not known. */
    private void putPromptLogprobs(ObjectNode o, Choice c) {
        if (request.promptLogprobs() == null) return;
        if (c.promptLogprobs == null) o.putNull("prompt_logprobs");
        else o.set("prompt_logprobs", logprobs.prompt(c.promptLogprobs));
    }

    /** vLLM answers with the params its KV connector produced (never the request's own), else null. */
    private static void putKvTransferParams(ObjectNode o, List<Choice> choices) {
        for (Choice c : choices) {
            if (c.kvTransferParams != null) {
                o.set("kv_transfer_params", c.kvTransferParams);
                return;
            }
        }
        o.putNull("kv_transfer_params");
    }

    private static void putStopReason(ObjectNode choice, Choice c) {
        switch (c.stopReason) {
            case Integer id -> choice.put("stop_reason", id);
            case String s -> choice.put("stop_reason", s);
            case null, default -> choice.putNull("stop_reason");
        }
    }

    int textLength(List<TokenLogprob> tokens) { return logprobs.textLength(tokens); }
}
