package dev.pdserve.http;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.concurrency.limits.Limit;
import io.helidon.common.task.InterruptableTask;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionSelector;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * The connection cap. Helidon's own cap ({@code maxTcpConnections}) stops accepting at the limit,
 * so new clients wait in the kernel's backlog without an answer; and an accept that fails for want
 * of file descriptors stops its listener for good. This gate is the listener's only HTTP/1.1
 * selector: each accepted connection is counted, and one over {@code max} is answered at once
 * with a 503 JSON error and closed, while the connections already open go on being served.
 * Reaching the limit is logged once, and again when connections are admitted after shedding.
 */
final class ConnectionGate implements ServerConnectionSelector {
    private static final Logger LOG = Logger.getLogger(ConnectionGate.class.getName());

    private final ServerConnectionSelector http1 = Http1ConnectionSelector.builder().config(Http1Config.create()).build();
    private final int max;
    private final String name;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong shed = new AtomicLong();
    private volatile boolean shedding;
    private final byte[] refusal;

    ConnectionGate(int max, String name) {
        this.max = max;
        this.name = name;
        byte[] body = HttpEdge.bytes(ErrorBody.of(503, null, "The server has " + max
                + " connections open, its limit: try again shortly"));
        String head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + HttpEdge.JSON_TYPE
                + "\r\nContent-Length: " + body.length + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        refusal = new byte[h.length + body.length];
        System.arraycopy(h, 0, refusal, 0, h.length);
        System.arraycopy(body, 0, refusal, h.length, body.length);
    }

    /** Connections open now (served, not shed). */
    int open() { return open.get(); }

    /** Connections refused so far. */
    long shed() { return shed.get(); }

    @Override public int bytesToIdentifyConnection() { return http1.bytesToIdentifyConnection(); }

    @Override public Support supports(BufferData data) { return http1.supports(data); }

    @Override public Set<String> supportedApplicationProtocols() { return http1.supportedApplicationProtocols(); }

    @Override
    public ServerConnection connection(ConnectionContext ctx) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            shed.incrementAndGet();
            if (!shedding) {
                shedding = true;
                LOG.warning(name + ": " + max + " connections open, the limit: new connections get 503 until some close");
            }
            return new Refused(ctx);
        }
        if (shedding) {
            shedding = false;
            LOG.info(name + ": admitting connections again (" + shed.get() + " refused so far)");
        }
        return new Counted(http1.connection(ctx));
    }

    /** A served connection, counted until its handling ends. */
    private final class Counted implements ServerConnection, InterruptableTask<Void> {
        private final ServerConnection delegate;

        Counted(ServerConnection delegate) { this.delegate = delegate; }

        @Override
        public void handle(Limit limit) throws InterruptedException {
            try {
                delegate.handle(limit);
            } finally {
                open.decrementAndGet();
            }
        }

        @Override public Duration idleTime() { return delegate.idleTime(); }

        @Override public void close(boolean interrupt) { delegate.close(interrupt); }

        @Override public boolean canInterrupt() { return delegate instanceof InterruptableTask<?> t && t.canInterrupt(); }

        @Override public void run() { throw new UnsupportedOperationException(); }

        @Override public Void call() { throw new UnsupportedOperationException(); }
    }

    /** Over the limit: the 503 is written before anything is read, then the server closes. */
    private final class Refused implements ServerConnection {
        private final ConnectionContext ctx;

        Refused(ConnectionContext ctx) { this.ctx = ctx; }

        @Override
        public void handle(Limit limit) {
            try {
                ctx.dataWriter().writeNow(BufferData.create(refusal));
            } catch (RuntimeException e) {
                // the client is already gone
            }
        }

        @Override public Duration idleTime() { return Duration.ZERO; }

        @Override public void close(boolean interrupt) { }
    }
}
