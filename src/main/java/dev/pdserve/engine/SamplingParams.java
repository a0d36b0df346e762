package dev.pdserve.engine;

import dev.pdserve.structured.CompiledConstraint;

import java.util.List;
import java.util.Map;

/**
 * How to pick the next tokens and when to stop, with vLLM's meanings and defaults. {@code
 * temperature == 0} is greedy. {@code topK == 0} and {@code topP == 1} disable those filters
 * (vLLM's other spelling of "no top_k", -1, is stored as 0). {@code logprobs} is the number of
 * top alternatives to report per token, or null for none; {@code promptLogprobs} the same for
 * each prompt token (vLLM's {@code prompt_logprobs}). {@code logitBias} is added to the logits
 * of its token ids before sampling (OpenAI's {@code logit_bias}, values clamped to [-100, 100]).
 * {@code structured} is the request's compiled output constraint (structured output, forced tool
 * calls), or null: compiled before the request reaches the engine, so the step loop never
 * compiles. Build one with {@link #builder()}.
 */
public record SamplingParams(
        double temperature,
        double topP,
        int topK,
        double minP,
        Long seed,
        double presencePenalty,
        double frequencyPenalty,
        double repetitionPenalty,
        List<String> stop,
        int[] stopTokenIds,
        boolean includeStopStrInOutput,
        int maxTokens,
        int minTokens,
        boolean ignoreEos,
        Integer logprobs,
        boolean skipSpecialTokens,
        Integer promptLogprobs,
        Map<Integer, Float> logitBias,
        CompiledConstraint structured) {

    /** The most top alternatives a request may ask for per token (vLLM's default {@code max_logprobs}). */
    public static final int MAX_LOGPROBS = 20;

    public SamplingParams {
        if (topK == -1) topK = 0;
        if (stop == null) stop = List.of();
        if (stopTokenIds == null) stopTokenIds = new int[0];
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
    }

    public static Builder builder() { return new Builder(); }

    /** Greedy decoding of up to {@code maxTokens} tokens, everything else at its default. */
    public static SamplingParams greedy(int maxTokens) { return builder().temperature(0).maxTokens(maxTokens).build(); }

    public Builder toBuilder() { return new Builder(this); }

    public SamplingParams withMaxTokens(int maxTokens) { return toBuilder().maxTokens(maxTokens).build(); }

    public boolean isGreedy() { return temperature <= 0; }

    /**
     * The parameter rules, in the order and with the messages of vLLM's {@code
     * SamplingParams._verify_args}, then its engine's {@code max_logprobs} check ({@code logprobs
     * = -1} asks for the whole vocabulary) and the stop token ids' vocabulary. Throws {@link
     * EngineException} 400 naming the parameter of the first rule broken. What needs the prompt
     * (its tokens, the context length) is {@link GenerationRequest#validate}'s.
     */
    public void validate(int vocabSize) {
        if (!(Math.abs(presencePenalty) <= 2)) throw bad("presence_penalty", "presence_penalty must be in [-2, 2], got " + presencePenalty + ".");
        if (!(Math.abs(frequencyPenalty) <= 2)) throw bad("frequency_penalty", "frequency_penalty must be in [-2, 2], got " + frequencyPenalty + ".");
        if (!Double.isFinite(repetitionPenalty)) throw bad("repetition_penalty", "repetition_penalty must be a finite number, got " + repetitionPenalty + ".");
        if (!(repetitionPenalty > 0)) throw bad("repetition_penalty", "repetition_penalty must be greater than zero, got " + repetitionPenalty + ".");
        if (!Double.isFinite(temperature)) throw bad("temperature", "temperature must be a finite number, got " + temperature + ".");
        if (temperature < 0) throw bad("temperature", "temperature must be non-negative, got " + temperature + ".");
        if (temperature > 2) throw bad("temperature", "temperature must be in [0, 2], got " + temperature + ".");
        if (!(topP > 0 && topP <= 1)) throw bad("top_p", "top_p must be in (0, 1], got " + topP + ".");
        if (topK < 0) throw bad("top_k", "top_k must be 0 (disable), or at least 1, got " + topK + ".");
        if (!(minP >= 0 && minP <= 1)) throw bad("min_p", "min_p must be in [0, 1], got " + minP + ".");
        if (maxTokens < 1) throw bad("max_tokens", "max_tokens must be at least 1, got " + maxTokens + ".");
        if (minTokens < 0) throw bad("min_tokens", "min_tokens must be greater than or equal to 0, got " + minTokens + ".");
        if (minTokens > maxTokens) throw bad("min_tokens", "min_tokens must be less than or equal to max_tokens=" + maxTokens + ", got " + minTokens + ".");
        if (logprobs != null && logprobs < -1) throw bad("logprobs", "logprobs must be non-negative or -1, got " + logprobs + ".");
        if (promptLogprobs != null && promptLogprobs < -1) {
            throw bad("prompt_logprobs", "prompt_logprobs must be non-negative or -1, got " + promptLogprobs + ".");
        }
        for (String s : stop) if (s == null || s.isEmpty()) throw bad("stop", "stop cannot contain an empty string.");
        int numLogprobs = numLogprobs(vocabSize);
        if (numLogprobs > MAX_LOGPROBS) {
            throw bad("logprobs", "Requested sample logprobs of " + numLogprobs + ", which is greater than max allowed: " + MAX_LOGPROBS);
        }
        int numPromptLogprobs = promptLogprobs == null ? 0 : promptLogprobs == -1 ? vocabSize : promptLogprobs;
        if (numPromptLogprobs > MAX_LOGPROBS) {
            throw bad("prompt_logprobs", "Requested prompt logprobs of " + numPromptLogprobs + ", which is greater than max allowed: " + MAX_LOGPROBS);
        }
        for (int t : stopTokenIds) GenerationRequest.checkTokenId("stop_token_ids", t, vocabSize);
        if (structured != null && structured.vocabulary().size() != vocabSize) {
            throw new EngineException(500, null, "the structured output constraint was compiled for " + structured.vocabulary().size()
                    + " tokens, the model has " + vocabSize);
        }
        List<Integer> outside = logitBias.keySet().stream().filter(t -> t < 0 || t >= vocabSize).sorted().toList();
        if (!outside.isEmpty()) {
            throw bad("logit_bias", "token_id(s) " + outside + " in logit_bias contain out-of-vocab token ids. Vocabulary size: " + vocabSize);
        }
    }

    /** Top alternatives to report per prompt token, or -1 when prompt logprobs are not asked for. */
    public int numPromptLogprobs(int vocabSize) {
        return promptLogprobs == null ? -1 : promptLogprobs == -1 ? vocabSize : promptLogprobs;
    }

    /** Top alternatives to report per token: 0 for none, the whole vocabulary for vLLM's {@code logprobs = -1}. */
    public int numLogprobs(int vocabSize) {
        return logprobs == null ? 0 : logprobs == -1 ? vocabSize : logprobs;
    }

    private static EngineException bad(String param, String message) { return EngineException.badRequest(param, message); }

    /** Named setters over vLLM's defaults (temperature 1, max_tokens 16, skip_special_tokens true, no filters or penalties). */
    public static final class Builder {
        private double temperature = 1, topP = 1, minP, presencePenalty, frequencyPenalty, repetitionPenalty = 1;
        private int topK, maxTokens = 16, minTokens;
        private Long seed;
        private List<String> stop = List.of();
        private int[] stopTokenIds = new int[0];
        private boolean includeStopStrInOutput, ignoreEos, skipSpecialTokens = true;
        private Integer logprobs, promptLogprobs;
        private Map<Integer, Float> logitBias = Map.of();
        private CompiledConstraint structured;

        private Builder() {}

        private Builder(SamplingParams p) {
            temperature = p.temperature; topP = p.topP; topK = p.topK; minP = p.minP; seed = p.seed;
            presencePenalty = p.presencePenalty; frequencyPenalty = p.frequencyPenalty; repetitionPenalty = p.repetitionPenalty;
            stop = p.stop; stopTokenIds = p.stopTokenIds; includeStopStrInOutput = p.includeStopStrInOutput;
            maxTokens = p.maxTokens; minTokens = p.minTokens; ignoreEos = p.ignoreEos; logprobs = p.logprobs;
            skipSpecialTokens = p.skipSpecialTokens; promptLogprobs = p.promptLogprobs; logitBias = p.logitBias;
            structured = p.structured;
        }

        public Builder temperature(double v) { temperature = v; return this; }
        public Builder topP(double v) { topP = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder minP(double v) { minP = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder presencePenalty(double v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(double v) { frequencyPenalty = v; return this; }
        public Builder repetitionPenalty(double v) { repetitionPenalty = v; return this; }
        public Builder stop(List<String> v) { stop = v; return this; }
        public Builder stopTokenIds(int... v) { stopTokenIds = v; return this; }
        public Builder includeStopStrInOutput(boolean v) { includeStopStrInOutput = v; return this; }
        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder minTokens(int v) { minTokens = v; return this; }
        public Builder ignoreEos(boolean v) { ignoreEos = v; return this; }
        public Builder logprobs(Integer v) { logprobs = v; return this; }
        public Builder skipSpecialTokens(boolean v) { skipSpecialTokens = v; return this; }
        public Builder structured(CompiledConstraint v) { structured = v; return this; }
        public Builder promptLogprobs(Integer v) { promptLogprobs = v; return this; }
        public Builder logitBias(Map<Integer, Float> v) { logitBias = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(temperature, topP, topK, minP, seed, presencePenalty, frequencyPenalty, repetitionPenalty,
                    stop, stopTokenIds, includeStopStrInOutput, maxTokens, minTokens, ignoreEos, logprobs, skipSpecialTokens,
                    promptLogprobs, logitBias, structured);
        }
    }
}
