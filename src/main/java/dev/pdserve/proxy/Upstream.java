package dev.pdserve.proxy;

import dev.pdserve.http.TcpPeer;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * HTTP/1.1 calls to the instances (JDK HttpClient). A call that is given up, by timeout or because the
 * client went away, closes its connection: the instance takes a closed connection as an abort. While a
 * call is awaited nothing has been written to the client, so a closed client is only seen by asking the
 * kernel ({@link TcpPeer}), every {@value TcpPeer#CHECK_MILLIS} ms.
 */
final class Upstream implements AutoCloseable {
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final HttpClient client;

    Upstream(Duration connectTimeout) {
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(connectTimeout)
                .executor(executor).build();
    }

    /** Headers forwarded to every instance: the request id, the caller's credentials and the proxies passed ({@link Loops}). */
    record Forward(String requestId, String authorization, String hops) {}

    /**
     * The client closed its connection while a call was awaited; the call was cancelled. Unchecked, not an
     * IOException: {@link Retries} must not take it for an instance failure and try again.
     */
    static final class ClientClosed extends RuntimeException {
        ClientClosed(InstanceAddress to) {
            super("the client closed the connection; the call to " + to + " was cancelled", null, false, false);
        }
    }

    private static HttpRequest.Builder request(InstanceAddress to, String path, Forward fwd) {
        HttpRequest.Builder b = HttpRequest.newBuilder(to.uri(path));
        if (fwd.requestId() != null) b.header("X-Request-Id", fwd.requestId());
        if (fwd.authorization() != null) b.header("Authorization", fwd.authorization());
        if (fwd.hops() != null) b.header(Loops.HOPS, fwd.hops());
        return b;
    }

    private static HttpRequest post(InstanceAddress to, String path, byte[] body, Forward fwd) {
        return request(to, path, fwd).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    /** POST and read the whole answer within {@code timeout}; {@link ClientClosed} if {@code caller} closes first. */
    HttpResponse<byte[]> postBuffered(InstanceAddress to, String path, byte[] body, Forward fwd, Duration timeout,
            TcpPeer caller) throws IOException, InterruptedException {
        return await(client.sendAsync(post(to, path, body, fwd), HttpResponse.BodyHandlers.ofByteArray()), timeout, to, caller);
    }

    /**
     * POST and return once the headers are in (within {@code timeout}); reading the body then fails when no
     * byte comes for {@code timeout}. Closing the body stream cancels the call. {@link ClientClosed} if
     * {@code caller} closes before the headers are in.
     */
    HttpResponse<InputStream> postStreaming(InstanceAddress to, String path, byte[] body, Forward fwd, Duration timeout,
            TcpPeer caller) throws IOException, InterruptedException {
        return await(client.sendAsync(post(to, path, body, fwd), RelayBody.handler(timeout.toNanos())), timeout, to, caller);
    }

    HttpResponse<byte[]> get(InstanceAddress to, String path, Forward fwd, Duration timeout)
            throws IOException, InterruptedException {
        return await(client.sendAsync(request(to, path, fwd).GET().build(), HttpResponse.BodyHandlers.ofByteArray()),
                timeout, to, TcpPeer.UNWATCHED);
    }

    private static <T> HttpResponse<T> await(CompletableFuture<HttpResponse<T>> call, Duration timeout, InstanceAddress to,
            TcpPeer caller) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                try {
                    long wait = Math.min(deadline - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(TcpPeer.CHECK_MILLIS));
                    return call.get(wait, TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    if (deadline - System.nanoTime() <= 0) {
                        call.cancel(true);
                        throw new HttpTimeoutException("no answer from " + to + " within " + timeout.toMillis() + " ms");
                    }
                    if (caller.closed()) {
                        call.cancel(true);
                        throw new ClientClosed(to);
                    }
                }
            }
        } catch (InterruptedException e) {
            call.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) throw io;
            throw new IOException(c == null ? "failed" : c.toString(), c);
        }
    }

    @Override
    public void close() {
        client.shutdownNow();
        executor.shutdownNow();
    }
}
