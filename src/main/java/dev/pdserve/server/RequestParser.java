package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.http.ApiException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the JSON of {@code /v1/completions} and {@code /v1/chat/completions} into an
 * {@link ApiRequest}, with vLLM's fields, defaults and validation messages. Knows nothing of HTTP.
 */
public final class RequestParser {
    static final int MAX_LOGPROBS = 20;
    static final int MAX_N = 128;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String servedModelName;
    private final int maxModelLen;
    private final TextCodec codec;

    public RequestParser(String servedModelName, int maxModelLen, TextCodec codec) {
        this.servedModelName = servedModelName;
        this.maxModelLen = maxModelLen;
        this.codec = codec;
    }

    public ApiRequest parseCompletion(ObjectNode body) {
        JsonFields f = new JsonFields(body);
        checkModel(f);
        if (f.bool("echo", false)) throw ApiException.badRequest("echo", "echo is not supported");
        if (f.has("suffix")) throw ApiException.badRequest("suffix", "suffix is not supported");
        List<int[]> prompts = completionPrompts(f.get("prompt"), f.bool("add_special_tokens", true));
        Integer logprobs = f.integer("logprobs");
        if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
            throw ApiException.badRequest("logprobs", "logprobs must be between 0 and " + MAX_LOGPROBS + ", got " + logprobs);
        }
        return build(ApiRequest.Kind.COMPLETION, f, prompts, f.integer("max_tokens"), logprobs);
    }

    public ApiRequest parseChat(ObjectNode body) {
        JsonFields f = new JsonFields(body);
        checkModel(f);
        JsonNode tools = f.get("tools");
        if (tools != null && tools.size() > 0) throw ApiException.badRequest("tools", "tools are not supported");
        List<Map<String, Object>> messages = chatMessages(f.get("messages"));
        if (!codec.hasChatTemplate()) {
            throw ApiException.badRequest(null, "The model has no chat template; use /v1/completions instead");
        }
        Map<String, Object> extra = new HashMap<>();
        ObjectNode kwargs = f.object("chat_template_kwargs");
        if (kwargs != null) extra.putAll(JSON.convertValue(kwargs, Map.class));
        String text = codec.applyChatTemplate(messages, f.bool("add_generation_prompt", true), extra);
        // The template already wrote BOS; vLLM adds no special tokens to chat prompts by default.
        int[] ids = codec.encode(text, f.bool("add_special_tokens", false));
        Integer maxTokens = f.integer("max_completion_tokens");
        if (maxTokens == null) maxTokens = f.integer("max_tokens");
        Integer logprobs = null;
        if (f.bool("logprobs", false)) {
            logprobs = f.integer("top_logprobs", 0);
            if (logprobs < 0 || logprobs > MAX_LOGPROBS) {
                throw ApiException.badRequest("top_logprobs", "top_logprobs must be between 0 and " + MAX_LOGPROBS + ", got " + logprobs);
            }
        } else if (f.integer("top_logprobs") != null && f.integer("top_logprobs") > 0) {
            throw ApiException.badRequest("top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true");
        }
        return build(ApiRequest.Kind.CHAT, f, List.of(ids), maxTokens, logprobs);
    }

    private void checkModel(JsonFields f) {
        String model = f.string("model", null);
        if (model != null && !model.equals(servedModelName)) {
            throw new ApiException(404, "model", "The model `" + model + "` does not exist. This server serves `" + servedModelName + "`.");
        }
    }

    private ApiRequest build(ApiRequest.Kind kind, JsonFields f, List<int[]> prompts, Integer maxTokens, Integer logprobs) {
        if (maxTokens != null && maxTokens < 1) {
            throw ApiException.badRequest(kind == ApiRequest.Kind.CHAT && f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
                    "max_tokens must be at least 1, got " + maxTokens + ".");
        }
        for (int[] p : prompts) checkLength(kind, p.length, maxTokens);
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
        JsonNode logitBias = f.get("logit_bias");
        if (logitBias != null && logitBias.size() > 0) throw ApiException.badRequest("logit_bias", "logit_bias is not supported");
        return new ApiRequest(kind, prompts, sampling(f, logprobs), maxTokens, n, stream, includeUsage, continuousUsage,
                logprobs, f.bool("return_tokens_as_token_ids", false), f.object("kv_transfer_params"));
    }

    private void checkLength(ApiRequest.Kind kind, int promptLen, Integer maxTokens) {
        String where = kind == ApiRequest.Kind.CHAT ? "messages" : "prompt";
        if (promptLen == 0) throw ApiException.badRequest(where, "The prompt is empty");
        if (promptLen >= maxModelLen || (maxTokens != null && (long) promptLen + maxTokens > maxModelLen)) {
            if (maxTokens == null || promptLen >= maxModelLen) {
                throw ApiException.badRequest(where, "This model's maximum context length is " + maxModelLen + " tokens. However, your request has "
                        + promptLen + " input tokens. Please reduce the length of the input " + where + ".");
            }
            throw ApiException.badRequest("max_tokens", "This model's maximum context length is " + maxModelLen + " tokens. However, you requested "
                    + (promptLen + maxTokens) + " tokens (" + promptLen + " in the " + where + ", " + maxTokens
                    + " in the completion). Please reduce the length of the " + where + " or completion.");
        }
    }

    private SamplingParams sampling(JsonFields f, Integer logprobs) {
        double temperature = f.number("temperature", 1.0);
        if (temperature < 0) throw ApiException.badRequest("temperature", "temperature must be non-negative, got " + temperature + ".");
        double topP = f.number("top_p", 1.0);
        if (!(topP > 0 && topP <= 1)) throw ApiException.badRequest("top_p", "top_p must be in (0, 1], got " + topP + ".");
        int topK = f.integer("top_k", 0);
        if (topK < -1) throw ApiException.badRequest("top_k", "top_k must be 0 or -1 (disable), or at least 1, got " + topK + ".");
        double minP = f.number("min_p", 0.0);
        if (minP < 0 || minP > 1) throw ApiException.badRequest("min_p", "min_p must be in [0, 1], got " + minP + ".");
        double presence = f.number("presence_penalty", 0.0);
        if (presence < -2 || presence > 2) throw ApiException.badRequest("presence_penalty", "presence_penalty must be in [-2, 2], got " + presence + ".");
        double frequency = f.number("frequency_penalty", 0.0);
        if (frequency < -2 || frequency > 2) throw ApiException.badRequest("frequency_penalty", "frequency_penalty must be in [-2, 2], got " + frequency + ".");
        double repetition = f.number("repetition_penalty", 1.0);
        if (repetition <= 0) throw ApiException.badRequest("repetition_penalty", "repetition_penalty must be greater than zero, got " + repetition + ".");
        int minTokens = f.integer("min_tokens", 0);
        if (minTokens < 0) throw ApiException.badRequest("min_tokens", "min_tokens must be greater than or equal to 0, got " + minTokens + ".");
        Integer maxTokens = f.integer("max_tokens");
        if (maxTokens != null && minTokens > maxTokens) {
            throw ApiException.badRequest("min_tokens", "min_tokens must be less than or equal to max_tokens=" + maxTokens + ", got " + minTokens + ".");
        }
        List<String> stop = f.strings("stop");
        for (String s : stop) if (s.isEmpty()) throw ApiException.badRequest("stop", "stop strings must not be empty");
        int[] stopIds = f.ints("stop_token_ids");
        for (int id : stopIds) checkTokenId("stop_token_ids", id);
        return new SamplingParams(temperature, topP, Math.max(topK, 0), minP, f.longValue("seed"), presence, frequency,
                repetition, stop, stopIds, f.bool("include_stop_str_in_output", false), 0, minTokens,
                f.bool("ignore_eos", false), logprobs, f.bool("skip_special_tokens", true));
    }

    /** OpenAI's four prompt shapes: a string, a list of token ids, a list of strings, a list of token-id lists. */
    private List<int[]> completionPrompts(JsonNode prompt, boolean addSpecialTokens) {
        if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' is required");
        List<int[]> out = new ArrayList<>();
        if (prompt.isTextual()) {
            out.add(codec.encode(prompt.textValue(), addSpecialTokens));
            return out;
        }
        if (!prompt.isArray() || prompt.isEmpty()) {
            throw ApiException.badRequest("prompt", "'prompt' must be a string, a list of token ids, or a non-empty list of those");
        }
        if (prompt.get(0).isIntegralNumber()) {
            out.add(tokenIds(prompt));
            return out;
        }
        for (JsonNode p : prompt) {
            if (p.isTextual()) out.add(codec.encode(p.textValue(), addSpecialTokens));
            else if (p.isArray()) out.add(tokenIds(p));
            else throw ApiException.badRequest("prompt", "'prompt' must be a string, a list of token ids, or a non-empty list of those");
        }
        return out;
    }

    private int[] tokenIds(JsonNode list) {
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = list.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw ApiException.badRequest("prompt", "token-id prompts must hold integers only");
            ids[i] = e.intValue();
            checkTokenId("prompt", ids[i]);
        }
        return ids;
    }

    private void checkTokenId(String param, int id) {
        if (id < 0 || id >= codec.vocabSize()) {
            throw ApiException.badRequest(param, "Token id " + id + " is out of vocabulary (size " + codec.vocabSize() + ")");
        }
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
            Map<String, Object> msg = new HashMap<>();
            msg.put("role", r);
            msg.put("content", content(m.get("content")));
            JsonNode name = m.get("name");
            if (name != null && name.isTextual()) msg.put("name", name.textValue());
            out.add(msg);
        }
        return out;
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
