package dev.pdserve.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A streamed upstream body as an InputStream. Unlike the JDK's {@code BodyHandlers.ofInputStream()} it
 * hands out every byte that arrived before a failure (a decoder that dies mid-stream loses no token that
 * reached the proxy), and it gives up when no byte comes for {@code idleTimeout}. Closing it cancels the
 * call, which closes the connection: the instance takes that as an abort.
 */
final class RelayBody extends InputStream implements HttpResponse.BodySubscriber<InputStream> {
    private static final Object END = new Object();

    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>(); // List<ByteBuffer>, Throwable or END
    private final long idleTimeoutNanos;
    private volatile Flow.Subscription subscription;
    private volatile boolean closed;
    private Iterator<ByteBuffer> batch;
    private ByteBuffer current;
    private boolean ended;
    private IOException failure;

    RelayBody(long idleTimeoutNanos) {
        this.idleTimeoutNanos = idleTimeoutNanos;
    }

    static HttpResponse.BodyHandler<InputStream> handler(long idleTimeoutNanos) {
        return info -> new RelayBody(idleTimeoutNanos);
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (closed) s.cancel();
        else s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
        queue.add(item);
    }

    @Override
    public void onError(Throwable t) {
        queue.add(t);
    }

    @Override
    public void onComplete() {
        queue.add(END);
    }

    @Override
    public CompletionStage<InputStream> getBody() {
        return CompletableFuture.completedFuture(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (closed) throw new IOException("closed");
        if (len == 0) return 0;
        while (current == null || !current.hasRemaining()) {
            if (batch != null && batch.hasNext()) {
                current = batch.next();
                continue;
            }
            if (ended) return -1;
            if (failure != null) throw failure;
            if (batch != null) {
                batch = null;
                subscription.request(1); // the previous batch is used up: ask for the next
            }
            Object o;
            try {
                o = queue.poll(idleTimeoutNanos, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for upstream data");
            }
            if (o == null) {
                failure = new HttpTimeoutException("no data for " + TimeUnit.NANOSECONDS.toMillis(idleTimeoutNanos) + " ms");
                throw failure;
            }
            if (o == END) {
                ended = true;
                return -1;
            }
            if (o instanceof Throwable t) {
                failure = t instanceof IOException io ? io : new IOException(t.toString(), t);
                throw failure;
            }
            @SuppressWarnings("unchecked")
            List<ByteBuffer> next = (List<ByteBuffer>) o;
            batch = next.iterator();
        }
        int n = Math.min(len, current.remaining());
        current.get(b, off, n);
        return n;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Flow.Subscription s = subscription;
        if (s != null && !ended) s.cancel();
    }
}
