package dev.pdserve.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.http.ApiException;
import dev.pdserve.tokenizer.TokenizerException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the JSON of {@code /v1/completions} and {@code /v1/chat/completions} into an
 * {@link ApiRequest}, with vLLM's fields and defaults. It checks the JSON's shape (types, prompt
 * and message forms) and what concerns the request as a whole (model, n, stream options,
 * unsupported fields); the values' rules are the engine's ({@link GenerationRequest#validate}),
 * which answers them when the request is submitted. Knows nothing of HTTP.
 */
public final class RequestParser {
    static final int MAX_N = 128;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String servedModelName;
    private final TextCodec codec;
    private final ChatTemplating templating;
    private final ToolRequest.Support toolSupport;

    public RequestParser(String servedModelName, TextCodec codec) { this(servedModelName, codec, ChatTemplating.DEFAULT, ToolRequest.Support.NONE); }

    public RequestParser(String servedModelName, TextCodec codec, ChatTemplating templating) {
        this(servedModelName, codec, templating, ToolRequest.Support.NONE);
    }

    public RequestParser(String servedModelName, TextCodec codec, ChatTemplating templating, ToolRequest.Support toolSupport) {
        this.servedModelName = servedModelName;
        this.codec = codec;
        this.templating = templating;
        this.toolSupport = toolSupport;
    }

    public ApiRequest parseCompletion(ObjectNode body) {
        JsonFields f = new JsonFields(body);
        checkModel(f);
        // An empty suffix asks for nothing; a real one needs fill-in-the-middle, which no model here is served for.
        String suffix = f.string("suffix", null);
        if (suffix != null && !suffix.isEmpty()) {
            throw ApiException.badRequest("suffix", "suffix (fill-in-the-middle insertion) is not supported: send the text before the "
                    + "insertion point as the prompt, or build the model's own FIM prompt");
        }
        List<String> texts = new ArrayList<>();
        List<int[]> prompts = completionPrompts(f.get("prompt"), f.bool("add_special_tokens", true), texts);
        boolean echo = f.bool("echo", false);
        Integer maxTokens = f.integer("max_tokens");
        // vLLM: echo with max_tokens 0 returns the prompt alone.
        boolean echoOnly = echo && maxTokens != null && maxTokens == 0;
        return build(ApiRequest.Kind.COMPLETION, f, prompts, maxTokens, f.integer("logprobs"), echo, echoOnly, texts);
    }

    public ApiRequest parseChat(ObjectNode body) {
        JsonFields f = new JsonFields(body);
        checkModel(f);
        ToolRequest tools = ToolRequest.parse(f, toolSupport);
        String text = chatText(f);
        // The template already wrote BOS; vLLM adds no special tokens to chat prompts by default.
        int[] ids = codec.encode(text, f.bool("add_special_tokens", false));
        Integer maxTokens = f.integer("max_completion_tokens");
        if (maxTokens == null) maxTokens = f.integer("max_tokens");
        Integer logprobs = null;
        if (f.bool("logprobs", false)) {
            logprobs = f.integer("top_logprobs", 0);
        } else if (f.integer("top_logprobs") != null && f.integer("top_logprobs") > 0) {
            throw ApiException.badRequest("top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true");
        }
        ApiRequest request = build(ApiRequest.Kind.CHAT, f, List.of(ids), maxTokens, logprobs, false, false, null).withTools(tools);
        // As vLLM's parsers adjust the request: their markers may be special tokens, which must stay in the text.
        if (tools != null && tools.mode() == ToolRequest.Mode.AUTO && tools.responseParser().needsSpecialTokens()) {
            request = request.withSampling(request.sampling().toBuilder().skipSpecialTokens(false).build());
        }
        return request;
    }

    /** The request's messages through the chat template, as /v1/chat/completions and /tokenize render them. */
    String chatText(JsonFields f) {
        return templating.render(f, chatMessages(f.get("messages")), codec);
    }

    private void checkModel(JsonFields f) {
        String model = f.string("model", null);
        if (model != null && !model.equals(servedModelName)) {
            throw new ApiException(404, "model", "The model `" + model + "` does not exist. This server serves `" + servedModelName + "`.");
        }
    }

    private ApiRequest build(ApiRequest.Kind kind, JsonFields f, List<int[]> prompts, Integer maxTokens, Integer logprobs,
                             boolean echo, boolean echoOnly, List<String> promptTexts) {
        f.string("user", null); // OpenAI's end-user id: accepted (must be a string), used for nothing
        int n = f.integer("n", 1);
        if (n < 1 || n > MAX_N) throw ApiException.badRequest("n", "n must be between 1 and " + MAX_N + ", got " + n);
        Integer bestOf = f.integer("best_of");
        if (bestOf != null && bestOf != n) throw ApiException.badRequest("best_of", "best_of is not supported unless it equals n");
        boolean stream = f.bool("stream", false);
        ObjectNode streamOptions = f.object("stream_options");
        if (streamOptions != null && !stream) {
            throw ApiException.badRequest("stream_options", "Stream options can only be defined when `stream=True`.");
        }
        JsonFields so = streamOptions == null ? null : new JsonFields(streamOptions);
        boolean includeUsage = so != null && so.bool("include_usage", false);
        boolean continuousUsage = so != null && so.bool("continuous_usage_stats", false);
        Integer promptLogprobs = f.integer("prompt_logprobs");
        // As vLLM: echo with logprobs scores the prompt too, with as many alternatives.
        Integer enginePromptLogprobs = promptLogprobs != null ? promptLogprobs : echo && logprobs != null ? logprobs : null;
        SamplingParams sampling = sampling(f, logprobs).toBuilder().promptLogprobs(enginePromptLogprobs).logitBias(logitBias(f)).build();
        return new ApiRequest(kind, prompts, sampling, maxTokens, n, stream, includeUsage, continuousUsage,
                logprobs, f.bool("return_tokens_as_token_ids", false), f.object("kv_transfer_params"), echo, echoOnly, promptTexts,
                promptLogprobs, null);
    }

    /** OpenAI's logit_bias: token id (as a string key) to a bias, clamped to [-100, 100] as vLLM does. */
    private static Map<Integer, Float> logitBias(JsonFields f) {
        ObjectNode bias = f.object("logit_bias");
        Map<Integer, Float> out = new HashMap<>();
        if (bias == null) return out;
        for (Map.Entry<String, JsonNode> e : bias.properties()) {
            int id;
            try {
                id = Integer.parseInt(e.getKey().strip());
            } catch (NumberFormatException x) {
                throw ApiException.badRequest("logit_bias", "logit_bias keys must be token ids, got '" + e.getKey() + "'");
            }
            if (!e.getValue().isNumber() || !Double.isFinite(e.getValue().doubleValue())) {
                throw ApiException.badRequest("logit_bias", "logit_bias values must be numbers, got " + e.getValue() + " for token " + id);
            }
            out.put(id, (float) Math.max(-100, Math.min(100, e.getValue().doubleValue())));
        }
        return out;
    }

    /** The sampling fields as sent (vLLM's defaults for those left out); max_tokens is set per prompt ({@link ApiRequest#samplingFor}). */
    private static SamplingParams sampling(JsonFields f, Integer logprobs) {
        return SamplingParams.builder()
                .temperature(f.number("temperature", 1.0))
                .topP(f.number("top_p", 1.0))
                .topK(f.integer("top_k", 0))
                .minP(f.number("min_p", 0.0))
                .seed(f.longValue("seed"))
                .presencePenalty(f.number("presence_penalty", 0.0))
                .frequencyPenalty(f.number("frequency_penalty", 0.0))
                .repetitionPenalty(f.number("repetition_penalty", 1.0))
                .stop(f.strings("stop"))
                .stopTokenIds(f.ints("stop_token_ids"))
                .includeStopStrInOutput(f.bool("include_stop_str_in_output", false))
                .minTokens(f.integer("min_tokens", 0))
                .ignoreEos(f.bool("ignore_eos", false))
                .logprobs(logprobs)
                .skipSpecialTokens(f.bool("skip_special_tokens", true))
                .build();
    }

    /** OpenAI's four prompt shapes: a string, a list of token ids, a list of strings, a list of token-id lists. */
    private List<int[]> completionPrompts(JsonNode prompt, boolean addSpecialTokens, List<String> texts) {
        if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' is required");
        List<int[]> out = new ArrayList<>();
        if (prompt.isTextual()) {
            out.add(codec.encode(prompt.textValue(), addSpecialTokens));
            texts.add(prompt.textValue());
            return out;
        }
        if (!prompt.isArray() || prompt.isEmpty()) {
            throw ApiException.badRequest("prompt", "'prompt' must be a string, a list of token ids, or a non-empty list of those");
        }
        if (prompt.get(0).isIntegralNumber()) {
            out.add(tokenIds(prompt));
            texts.add(null);
            return out;
        }
        for (JsonNode p : prompt) {
            if (p.isTextual()) {
                out.add(codec.encode(p.textValue(), addSpecialTokens));
                texts.add(p.textValue());
            } else if (p.isArray()) {
                out.add(tokenIds(p));
                texts.add(null);
            } else throw ApiException.badRequest("prompt", "'prompt' must be a string, a list of token ids, or a non-empty list of those");
        }
        return out;
    }

    private static int[] tokenIds(JsonNode list) {
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = list.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw ApiException.badRequest("prompt", "token-id prompts must hold integers only");
            ids[i] = e.intValue();
        }
        return ids;
    }

    /** Chat messages for the template: content as a string, or the text parts joined by newlines (as vLLM does). */
    static List<Map<String, Object>> chatMessages(JsonNode messages) {
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw ApiException.badRequest("messages", "'messages' must be a non-empty list of messages");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode m : messages) {
            if (!m.isObject()) throw ApiException.badRequest("messages", "each message must be an object with 'role' and 'content'");
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw ApiException.badRequest("messages", "each message needs a string 'role'");
            String r = role.textValue();
            if (!List.of("system", "developer", "user", "assistant", "tool").contains(r)) {
                throw ApiException.badRequest("messages", "unknown message role '" + r + "'");
            }
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", r);
            msg.put("content", content(m.get("content")));
            if (r.equals("assistant")) assistantParts(m, msg);
            JsonNode callId = m.get("tool_call_id");
            if (r.equals("tool") && callId != null && !callId.isNull()) msg.put("tool_call_id", JSON.convertValue(callId, Object.class));
            JsonNode name = m.get("name");
            if (name != null && name.isTextual()) msg.put("name", name.textValue());
            out.add(msg);
        }
        return out;
    }

    /**
     * An assistant turn's tool calls, arguments parsed from their JSON text as vLLM hands them to
     * templates (absent or empty: {}), and its reasoning, under both names vLLM uses.
     */
    @SuppressWarnings("unchecked")
    private static void assistantParts(JsonNode m, Map<String, Object> msg) {
        JsonNode calls = m.get("tool_calls");
        if (calls != null && !calls.isNull()) {
            if (!calls.isArray()) throw ApiException.badRequest("messages", "'tool_calls' must be a list");
            List<Object> out = new ArrayList<>();
            for (JsonNode call : calls) {
                if (!call.isObject() || !call.path("function").isObject()) {
                    throw ApiException.badRequest("messages", "each tool call needs a 'function' object");
                }
                Map<String, Object> c = JSON.convertValue(call, LinkedHashMap.class);
                Map<String, Object> function = (Map<String, Object>) c.get("function");
                Object arguments = function.get("arguments");
                if (arguments instanceof String text && !text.isEmpty()) {
                    try {
                        function.put("arguments", JSON.readValue(text, Object.class));
                    } catch (JsonProcessingException e) {
                        throw ApiException.badRequest("messages", "tool call arguments are not valid JSON: " + e.getOriginalMessage());
                    }
                } else if (arguments == null || arguments instanceof String) {
                    function.put("arguments", new LinkedHashMap<>());
                }
                out.add(c);
            }
            msg.put("tool_calls", out);
        }
        JsonNode reasoning = m.hasNonNull("reasoning") ? m.get("reasoning") : m.get("reasoning_content");
        if (reasoning != null && !reasoning.isNull()) {
            Object r = JSON.convertValue(reasoning, Object.class);
            msg.put("reasoning", r);
            msg.put("reasoning_content", r);
        }
    }

    private static String content(JsonNode content) {
        if (content == null || content.isNull()) return "";
        if (content.isTextual()) return content.textValue();
        if (!content.isArray()) throw ApiException.badRequest("messages", "message 'content' must be a string or a list of content parts");
        StringBuilder text = new StringBuilder();
        for (JsonNode part : content) {
            String type = part.path("type").asText("");
            if (!type.equals("text")) {
                throw ApiException.badRequest("messages", "content part type '" + type + "' is not supported; only 'text' is");
            }
            JsonNode t = part.get("text");
            if (t == null || !t.isTextual()) throw ApiException.badRequest("messages", "a text content part needs a string 'text'");
            if (!text.isEmpty()) text.append('\n');
            text.append(t.textValue());
        }
        return text.toString();
    }
}
