package dev.pdserve.bench;

/**
 * What one request measured, all times in seconds. {@code startTime} is when it was sent, relative to the
 * benchmark start; {@code ttft} and {@code latency} (E2EL, to the last token chunk, as vLLM) are relative to
 * {@code startTime}; {@code itl} holds the gaps between consecutive token chunks (chunks - 1 values).
 * {@code outputTokens} is the server's {@code usage.completion_tokens}, or the chunk count when it sent none.
 * A failed request keeps its {@code error}; it is counted, never dropped.
 */
public record RequestResult(boolean success, String error, double startTime, double ttft, double[] itl,
                            double latency, int promptLen, int outputTokens, boolean usageReported,
                            String generatedText, double queueTime) {

    public static RequestResult failure(String error, double startTime, double latency, int promptLen, double queueTime) {
        return new RequestResult(false, error, startTime, 0, new double[0], latency, promptLen, 0, false, "", queueTime);
    }

    /** Number of token chunks received. */
    public int chunks() {
        return success ? itl.length + 1 : 0;
    }

    RequestResult withQueueTime(double q) {
        return new RequestResult(success, error, startTime, ttft, itl, latency, promptLen, outputTokens, usageReported, generatedText, q);
    }
}
