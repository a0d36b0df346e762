package dev.pdserve.engine;

/**
 * When a request is done, checked after each token it gets (vLLM's {@code check_stop}, in its
 * order): EOS (unless ignore_eos) or a stop token id, once min_tokens are out; then a stop string
 * in the text; then a structured output constraint that is complete with nothing but EOS left
 * ({@code stop}, also under ignore_eos); then max_tokens or max-model-len (an unfinished constrained
 * output ends with {@code length}, as in vLLM). The token's text goes into the request's
 * {@link OutputText} here, since stop strings are found in text (a stop token's text only with
 * include_stop_str_in_output, as vLLM does).
 */
final class StopRules {
    private final int[] eosIds;
    private final int maxModelLen;

    StopRules(int[] eosIds, int maxModelLen) {
        this.eosIds = eosIds.clone();
        this.maxModelLen = maxModelLen;
    }

    /**
     * Checks {@code r} after {@code token}, its newest, was appended. Returns true when it is
     * done; then {@code r.finishReason} and {@code r.stopReason} (vLLM's stop_reason) say why.
     */
    boolean check(Request r, int token) {
        SamplingParams p = r.sampling;
        if (r.matcher != null && !r.matcher.accept(token)) {
            // The sampler masked every token the constraint refuses: this is an engine bug, not the request's.
            throw new IllegalStateException("token " + token + " breaks the structured output constraint of " + r.id);
        }
        int out = r.numOutputTokens();
        boolean eos = !p.ignoreEos() && contains(eosIds, token);
        if (out >= p.minTokens() && (eos || contains(p.stopTokenIds(), token))) {
            if (p.includeStopStrInOutput()) r.text.add(token, false);
            return finish(r, FinishReason.STOP, eos ? null : token);
        }
        if (r.text.add(token, out > p.minTokens())) return finish(r, FinishReason.STOP, r.text.matchedStop());
        if (r.matcher != null && r.matcher.mustStop()) return finish(r, FinishReason.STOP, null);
        if (out >= p.maxTokens() || r.numTokens >= maxModelLen) return finish(r, FinishReason.LENGTH, null);
        return false;
    }

    private static boolean finish(Request r, FinishReason reason, Object stopReason) {
        r.finishReason = reason;
        r.stopReason = stopReason;
        return true;
    }

    private static boolean contains(int[] ids, int id) {
        for (int x : ids) if (x == id) return true;
        return false;
    }
}
