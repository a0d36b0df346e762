package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The one rule set every request passes before an engine queues it: each rule's parameter and vLLM's message. */
class SamplingParamsTest {
    static final int VOCAB = 256, MAX_LEN = 64;

    /** The rule {@code change} breaks, as (param, message). */
    static List<String> broken(UnaryOperator<SamplingParams.Builder> change) {
        return broken(new int[] {1, 2, 3}, change.apply(SamplingParams.builder().maxTokens(8)).build());
    }

    static List<String> broken(int[] prompt, SamplingParams p) {
        EngineException e = catchThrowableOfType(EngineException.class, () -> new GenerationRequest("r", prompt, p).validate(VOCAB, MAX_LEN));
        assertThat(e).as("no rule broken").isNotNull();
        assertThat(e.status).isEqualTo(400);
        return java.util.Arrays.asList(e.param, e.getMessage());
    }

    @Test
    void eachSamplingRuleNamesItsParameterInVllmsWords() {
        assertThat(broken(b -> b.temperature(-1))).containsExactly("temperature", "temperature must be non-negative, got -1.0.");
        assertThat(broken(b -> b.temperature(Double.NaN))).containsExactly("temperature", "temperature must be a finite number, got NaN.");
        assertThat(broken(b -> b.temperature(2.5))).containsExactly("temperature", "temperature must be in [0, 2], got 2.5.");
        assertThat(broken(b -> b.topP(0))).containsExactly("top_p", "top_p must be in (0, 1], got 0.0.");
        assertThat(broken(b -> b.topP(1.5))).containsExactly("top_p", "top_p must be in (0, 1], got 1.5.");
        assertThat(broken(b -> b.topK(-2))).containsExactly("top_k", "top_k must be 0 (disable), or at least 1, got -2.");
        assertThat(broken(b -> b.minP(1.1))).containsExactly("min_p", "min_p must be in [0, 1], got 1.1.");
        assertThat(broken(b -> b.presencePenalty(2.5))).containsExactly("presence_penalty", "presence_penalty must be in [-2, 2], got 2.5.");
        assertThat(broken(b -> b.frequencyPenalty(-3))).containsExactly("frequency_penalty", "frequency_penalty must be in [-2, 2], got -3.0.");
        assertThat(broken(b -> b.repetitionPenalty(0))).containsExactly("repetition_penalty", "repetition_penalty must be greater than zero, got 0.0.");
        assertThat(broken(b -> b.repetitionPenalty(Double.POSITIVE_INFINITY)))
                .containsExactly("repetition_penalty", "repetition_penalty must be a finite number, got Infinity.");
        assertThat(broken(b -> b.maxTokens(0))).containsExactly("max_tokens", "max_tokens must be at least 1, got 0.");
        assertThat(broken(b -> b.minTokens(-1))).containsExactly("min_tokens", "min_tokens must be greater than or equal to 0, got -1.");
        assertThat(broken(b -> b.maxTokens(2).minTokens(5))).containsExactly("min_tokens", "min_tokens must be less than or equal to max_tokens=2, got 5.");
        assertThat(broken(b -> b.logprobs(-2))).containsExactly("logprobs", "logprobs must be non-negative or -1, got -2.");
        // -1 asks for the whole vocabulary, which is over the limit unless the vocabulary is small.
        assertThat(broken(b -> b.logprobs(-1))).containsExactly("logprobs", "Requested sample logprobs of 256, which is greater than max allowed: 20");
        assertThatCode(() -> SamplingParams.builder().logprobs(-1).build().validate(SamplingParams.MAX_LOGPROBS)).doesNotThrowAnyException();
        assertThat(broken(b -> b.logprobs(SamplingParams.MAX_LOGPROBS + 1)))
                .containsExactly("logprobs", "Requested sample logprobs of 21, which is greater than max allowed: 20");
        assertThat(broken(b -> b.stop(List.of("x", "")))).containsExactly("stop", "stop cannot contain an empty string.");
        assertThat(broken(b -> b.stopTokenIds(3, 300))).containsExactly("stop_token_ids", "Token id 300 is out of vocabulary (size 256)");
    }

    @Test
    void theRequestRulesCoverThePromptAndTheContextLength() {
        SamplingParams ok = SamplingParams.greedy(8);
        assertThat(broken(new int[0], ok)).containsExactly("prompt", "The decoder prompt cannot be empty");
        assertThat(broken(new int[] {1, -1}, ok)).containsExactly("prompt", "Token id -1 is out of vocabulary (size 256)");
        assertThat(broken(new int[MAX_LEN], ok)).containsExactly("prompt", "This model's maximum context length is 64 tokens. However, your request has "
                + "64 input tokens. Please reduce the length of the input messages.");
        assertThat(broken(new int[4], ok.withMaxTokens(61))).containsExactly("max_tokens", "'max_tokens' or 'max_completion_tokens' is too large: 61. "
                + "This model's maximum context length is 64 tokens and your request has 4 input tokens (61 > 64 - 4).");
        // A prompt too long is named as such even when max_tokens, filled from what is left of the context, is below 1.
        assertThat(broken(new int[70], ok.withMaxTokens(MAX_LEN - 70)).getFirst()).isEqualTo("prompt");
        assertThatCode(() -> new GenerationRequest("r", new int[4], ok.withMaxTokens(60)).validate(VOCAB, MAX_LEN)).doesNotThrowAnyException();
        assertThat(catchThrowableOfType(EngineException.class, () -> new GenerationRequest("", new int[4], ok).validate(VOCAB, MAX_LEN)).param)
                .isEqualTo("request_id");
    }

    @Test
    void defaultsAreVllmsAndTopKMinusOneMeansDisabled() {
        SamplingParams p = SamplingParams.builder().build();
        assertThat(p.temperature()).isEqualTo(1.0);
        assertThat(p.maxTokens()).isEqualTo(16);
        assertThat(p.topK()).isZero();
        assertThat(p.skipSpecialTokens()).isTrue();
        assertThat(p.stop()).isEmpty();
        assertThat(p.stopTokenIds()).isEmpty();
        assertThat(SamplingParams.builder().topK(-1).build().topK()).isZero();
        SamplingParams greedy = SamplingParams.greedy(5);
        assertThat(greedy.isGreedy()).isTrue();
        assertThat(greedy.withMaxTokens(9)).isEqualTo(greedy.toBuilder().maxTokens(9).build());
        assertThat(greedy.withMaxTokens(9).maxTokens()).isEqualTo(9);
    }
}
