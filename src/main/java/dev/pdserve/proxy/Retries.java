package dev.pdserve.proxy;

import dev.pdserve.http.ApiException;
import dev.pdserve.proxy.InstancePool.Booking;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The retry policy: connection errors, timeouts and 5xx are tried again, on another instance when there
 * is one, after {@code retryDelay * 2^(n-1)}, up to {@code maxRetries} times. Callers only use it before
 * the first byte went to the client.
 */
final class Retries {
    private static final Logger LOG = Logger.getLogger("dev.pdserve.proxy");

    private final ProxyConfig config;
    private final InstancePool pool;
    private final ProxyMetrics metrics;

    Retries(ProxyConfig config, InstancePool pool, ProxyMetrics metrics) {
        this.config = config;
        this.pool = pool;
        this.metrics = metrics;
    }

    /** One try on one instance; it judges the booking itself on success or on a 4xx. */
    interface Attempt<T> {
        T run(Booking booking) throws IOException, InterruptedException, RetryableFailure;
    }

    /**
     * Runs {@code attempt} on the least-loaded available instance of {@code type}, booking
     * {@code promptTokens} on it, and again on failure. 503 when no instance is available at all, 502
     * naming the last instance and cause when every attempt failed.
     */
    <T> T run(InstanceType type, long promptTokens, Attempt<T> attempt) throws InterruptedException {
        Set<Instance> tried = new HashSet<>();
        String lastFailure = null;
        for (int n = 0; n <= config.maxRetries; n++) {
            if (n > 0) {
                metrics.retry(type);
                Thread.sleep(config.retryDelay.multipliedBy(1L << Math.min(n - 1, 20)));
            }
            Booking booking = pool.acquire(type, tried, promptTokens);
            if (booking == null) {
                if (lastFailure == null) throw noInstance(type);
                continue;
            }
            tried.add(booking.instance);
            try {
                return attempt.run(booking);
            } catch (IOException | RetryableFailure e) {
                lastFailure = booking.instance + " " + (e instanceof RetryableFailure ? e.getMessage() : PdHandler.describe(e));
                booking.failure(lastFailure);
                LOG.warning("attempt " + (n + 1) + ": " + lastFailure);
            } finally {
                booking.noVerdict(); // no-op when the attempt already judged the instance
            }
        }
        if (lastFailure == null) throw noInstance(type);
        throw ApiException.upstream(type.label() + " failed after " + (config.maxRetries + 1) + " attempt(s); last: " + lastFailure);
    }

    ApiException noInstance(InstanceType type) {
        int total = pool.list(type).size();
        return ApiException.unavailable("no healthy " + type.label() + " instance"
                + (total == 0 ? " is configured" : ": all " + total + " are failing health checks or their circuit breakers are open"));
    }

    /** An instance failure that may be retried on another instance. */
    static final class RetryableFailure extends Exception {
        RetryableFailure(String message) {
            super(message, null, false, false);
        }
    }
}
