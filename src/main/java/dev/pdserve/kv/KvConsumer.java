package dev.pdserve.kv;

import dev.pdserve.model.KvCache;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Logger;

/**
 * The decode side: pulls a finished prefill's KV blocks from a producer straight into this
 * instance's own blocks, then releases them on the producer. Connections are pooled per producer
 * and reused; one that turns out stale (the producer restarted) is replaced and the pull retried
 * once. A failed pull leaves the local blocks half written: the caller frees or recomputes them.
 */
public final class KvConsumer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KvConsumer.class.getName());

    private final KvTransferConfig config;
    private final KvPeerInfo info;
    private final Map<String, ConcurrentLinkedDeque<KvChannel>> idle = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private final LongAdder bytesReceived = new LongAdder();
    private final LongAdder transferNanos = new LongAdder();
    private final LongAdder pullsCompleted = new LongAdder();
    private final LongAdder pullsFailed = new LongAdder();
    private final LongAdder connectionsOpened = new LongAdder();

    public KvConsumer(KvTransferConfig config, KvPeerInfo info) {
        this.config = config;
        this.info = info;
    }

    public KvPeerInfo info() { return info; }

    /** Pulls with the producer's {@code kv_transfer_params}, after checking the fields it can check before connecting. */
    public KvTransferResult pull(KvTransferParams p, int[] promptTokens, KvCache localCache, int[] localBlockIds) throws KvTransferException {
        if (!p.doRemotePrefill()) throw new KvTransferException("kv_transfer_params has do_remote_prefill false: nothing to pull");
        String why = p.incompatibilityWith(info);
        if (why != null) throw new KvTransferException("cannot use the KV of request " + p.remoteRequestId() + ": " + why);
        return pull(p.remoteHost(), p.remotePort(), p.remoteEngineId(), p.remoteRequestId(), p.remoteBlockIds(), promptTokens, localCache, localBlockIds);
    }

    /**
     * Copies the producer's blocks {@code remoteBlockIds} of request {@code remoteRequestId} into
     * {@code localBlockIds} of {@code localCache} (same count, same order), then releases them on the
     * producer. {@code remoteEngineId} (may be null) must match the producer's engine id. The producer
     * refuses (status 400) unless {@code promptTokens} are the prompt it leased and the block ids its lease's.
     */
    public KvTransferResult pull(String remoteHost, int remotePort, String remoteEngineId, String remoteRequestId,
                                 int[] remoteBlockIds, int[] promptTokens, KvCache localCache, int[] localBlockIds) throws KvTransferException {
        checkLocal(remoteRequestId, remoteBlockIds, localCache, localBlockIds);
        if (!config.allowsProducer(remoteHost, remotePort)) throw new KvTransferException(400, notAllowed(remoteHost, remotePort));
        byte[] promptHash = PromptHash.of(info.modelFingerprint(), promptTokens);
        String key = remoteHost + ":" + remotePort;
        KvChannel c = pooled(key, remoteEngineId);
        boolean reused = c != null;
        try {
            if (c == null) c = connect(remoteHost, remotePort, remoteEngineId);
            try {
                return finish(key, c, transfer(c, remoteRequestId, remoteBlockIds, promptHash, localCache, localBlockIds));
            } catch (IOException e) {
                c.close();
                if (!reused || closed) throw e;
                // A pooled connection can be stale (the producer restarted): retry once on a fresh one.
                LOG.warning("KV connection to " + key + " failed (" + e.getMessage() + "); retrying on a new connection");
                c = connect(remoteHost, remotePort, remoteEngineId);
                return finish(key, c, transfer(c, remoteRequestId, remoteBlockIds, promptHash, localCache, localBlockIds));
            }
        } catch (IOException e) {
            if (c != null) c.close();
            pullsFailed.increment();
            throw new KvTransferException("KV pull of request " + remoteRequestId + " from " + key + " failed: " + e.getMessage(), e);
        } catch (RemoteError e) {
            offer(key, c); // the producer answered in protocol: the connection is fine
            pullsFailed.increment();
            throw new KvTransferException(e.status, "KV pull of request " + remoteRequestId + " from " + key + " refused: " + e.getMessage());
        } catch (KvTransferException e) {
            pullsFailed.increment();
            throw e;
        }
    }

    /** Why {@code host:port} may not be pulled from; see {@link KvTransferConfig#allowsProducer}. */
    String notAllowed(String host, int port) {
        return "prefill instance " + host + ":" + port + " is not in kv_connector_extra_config.allowed_prefill_addresses "
                + config.allowedPrefillAddresses();
    }

    /**
     * Frees a lease this instance will not pull after all (its request was aborted before the pull):
     * RELEASE with the request's prompt, so the producer gets its blocks back now instead of at expiry.
     * Best effort: a failure is logged and the lease runs out as it would have.
     */
    public void release(KvTransferParams p, int[] promptTokens) {
        if (!config.allowsProducer(p.remoteHost(), p.remotePort())) return;
        String key = p.remoteHost() + ":" + p.remotePort();
        KvChannel c = pooled(key, p.remoteEngineId());
        try {
            if (c == null) c = connect(p.remoteHost(), p.remotePort(), p.remoteEngineId());
            if (release(c, p.remoteRequestId(), PromptHash.of(info.modelFingerprint(), promptTokens))) offer(key, c);
        } catch (IOException | KvTransferException e) {
            if (c != null) c.close();
            LOG.warning("could not release the KV lease of request " + p.remoteRequestId() + " on " + key + " (" + e.getMessage()
                    + "); the producer frees it when the lease runs out");
        }
    }

    /** KV payload bytes received ({@code pdserve:kv_transfer_bytes_total} on the decode side). */
    public long bytesReceived() { return bytesReceived.sum(); }

    /** Seconds spent receiving KV. */
    public double transferSeconds() { return transferNanos.sum() / 1e9; }

    public long pullsCompleted() { return pullsCompleted.sum(); }

    public long pullsFailed() { return pullsFailed.sum(); }

    /** Connections opened so far (pooled connections are reused, so this grows slowly). */
    public long connectionsOpened() { return connectionsOpened.sum(); }

    private void checkLocal(String requestId, int[] remote, KvCache cache, int[] local) throws KvTransferException {
        if (requestId == null || requestId.isEmpty()) throw new KvTransferException("no remote request id to pull");
        if (remote.length != local.length) {
            throw new KvTransferException("request " + requestId + ": " + remote.length + " remote blocks but " + local.length + " local blocks");
        }
        if (cache.blockSize() != info.blockSize() || cache.entryFloats() != info.entryFloats()) {
            throw new KvTransferException("local cache (block size " + cache.blockSize() + ", entry floats " + cache.entryFloats()
                    + ") does not match this consumer's descriptor (" + info.blockSize() + ", " + info.entryFloats() + ")");
        }
        for (int b : local) {
            if (b < 0 || b >= cache.numBlocks()) throw new KvTransferException("local block id " + b + " is out of range: the cache has " + cache.numBlocks() + " blocks");
        }
    }

    private KvChannel pooled(String key, String engineId) {
        ConcurrentLinkedDeque<KvChannel> q = idle.get(key);
        KvChannel c;
        while (q != null && (c = q.pollFirst()) != null) {
            if (c.isOpen() && (engineId == null || engineId.equals(c.remote.engineId()))) return c;
            c.close(); // closed, or another engine answers there now
        }
        return null;
    }

    private KvTransferResult finish(String key, KvChannel c, KvTransferResult r) {
        offer(key, c);
        pullsCompleted.increment();
        bytesReceived.add(r.payloadBytes());
        transferNanos.add((long) (r.seconds() * 1e9));
        return r;
    }

    private void offer(String key, KvChannel c) {
        if (closed || !c.isOpen()) {
            c.close();
            return;
        }
        idle.computeIfAbsent(key, k -> new ConcurrentLinkedDeque<>()).addFirst(c);
        if (closed) c.close();
    }

    private KvChannel connect(String host, int port, String engineId) throws IOException, KvTransferException {
        SocketChannel sc = SocketChannel.open();
        KvChannel c = null;
        try {
            sc.socket().connect(new InetSocketAddress(host, port), config.connectTimeoutMs());
            sc.setOption(StandardSocketOptions.TCP_NODELAY, true);
            c = new KvChannel(sc, "producer " + host + ":" + port, config.readTimeoutMs());
            connectionsOpened.increment();
            // A peer that does not speak the protocol (a silent listener, an HTTP port) fails here within a second.
            c.startTotal(config.handshakeTimeoutMs(), "the handshake took longer than handshake_timeout_ms");
            KvPeerInfo remote = KvHandshake.asConsumer(c, info, config.clusterToken());
            c.endTotal();
            c.authenticated();
            if (engineId != null && !engineId.equals(remote.engineId())) {
                throw new KvTransferException("engine id mismatch: kv_transfer_params name remote_engine_id " + engineId
                        + " but the producer at " + host + ":" + port + " is engine " + remote.engineId() + " (restarted or another instance?)");
            }
            return c;
        } catch (KvHandshake.Refused r) {
            closeQuietly(sc, c);
            throw new KvTransferException("refused the producer " + host + ":" + port + ": " + r.getMessage());
        } catch (IOException e) {
            closeQuietly(sc, c);
            throw new IOException("cannot connect to " + host + ":" + port + ": " + e.getMessage(), e);
        } catch (KvTransferException | RuntimeException e) {
            closeQuietly(sc, c);
            throw e;
        }
    }

    private static void closeQuietly(SocketChannel sc, KvChannel c) {
        if (c != null) c.close();
        try {
            sc.close();
        } catch (IOException ignored) {
            // best effort
        }
    }

    /** The producer's ERROR (502) or REFUSED (its status) answer to a PULL; the connection stays usable. */
    private static final class RemoteError extends Exception {
        final int status;

        RemoteError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }

        static RemoteError of(KvChannel.Frame f) throws IOException {
            if (f.type() == KvChannel.REFUSED) {
                int status = f.i32();
                return new RemoteError(status >= 400 && status < 600 ? status : 502, f.string());
            }
            return new RemoteError(502, f.string());
        }
    }

    private static boolean isRefusal(KvChannel.Frame f) { return f.type() == KvChannel.ERROR || f.type() == KvChannel.REFUSED; }

    private KvTransferResult transfer(KvChannel c, String requestId, int[] remote, byte[] promptHash, KvCache cache, int[] local)
            throws IOException, RemoteError {
        long read0 = c.bytesRead, written0 = c.bytesWritten, start = System.nanoTime();
        int layers = info.numLayers();
        long blockBytes = info.bytesPerBlockLayer();
        c.startTotal(config.transferTimeoutMs());
        try {
            c.start();
            c.putString(requestId).putInts(remote).putBytes(promptHash);
            c.send(KvChannel.PULL, "sending PULL");
            KvChannel.Frame f = c.read("waiting for the KV of request " + requestId, false);
            if (isRefusal(f)) throw RemoteError.of(f);
            if (f.type() != KvChannel.BLOCKS) throw new IOException("expected BLOCKS, got " + KvChannel.name(f.type()));
            String rid = f.string();
            int blocks = f.i32(), layersSent = f.i32(), bytesSent = f.i32();
            if (!rid.equals(requestId) || blocks != remote.length || layersSent != layers || bytesSent != blockBytes) {
                throw new IOException("producer announced " + blocks + " blocks x " + layersSent + " layers x " + bytesSent
                        + " bytes for request " + rid + ", expected " + remote.length + " x " + layers + " x " + blockBytes + " for " + requestId);
            }
            ByteBuffer[] into = new ByteBuffer[local.length * layers];
            for (int i = 0; i < local.length; i++) {
                for (int l = 0; l < layers; l++) into[i * layers + l] = cache.layer(l).asSlice(local[i] * blockBytes, blockBytes).asByteBuffer();
            }
            c.readFully(into, 0, into.length, "receiving the KV of request " + requestId);
            KvChannel.Frame done = c.read("waiting for DONE of request " + requestId, false);
            if (isRefusal(done)) throw RemoteError.of(done);
            if (done.type() != KvChannel.DONE) throw new IOException("expected DONE, got " + KvChannel.name(done.type()));
        } finally {
            c.endTotal();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        release(c, requestId, promptHash);
        return new KvTransferResult(remote.length, (long) remote.length * layers * blockBytes,
                c.bytesRead - read0 + c.bytesWritten - written0, seconds);
    }

    /**
     * Tells the producer to free. The KV is already here, so a failure only costs the producer a lease
     * period. False when the connection is no longer usable (closed).
     */
    private boolean release(KvChannel c, String requestId, byte[] promptHash) {
        try {
            c.start();
            c.putString(requestId).putBytes(promptHash);
            c.send(KvChannel.RELEASE, "sending RELEASE");
            KvChannel.Frame r = c.read("waiting for RELEASED of request " + requestId, false);
            if (isRefusal(r)) {
                LOG.warning("RELEASE of request " + requestId + " refused by " + c.peer + ": " + RemoteError.of(r).getMessage());
                return true;
            }
            if (r.type() != KvChannel.RELEASED) throw new IOException("expected RELEASED, got " + KvChannel.name(r.type()));
            return true;
        } catch (IOException e) {
            LOG.warning("RELEASE of request " + requestId + " to " + c.peer + " failed (" + e.getMessage() + "); the producer frees it when the lease runs out");
            c.close();
            return false;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (ConcurrentLinkedDeque<KvChannel> q : idle.values()) {
            KvChannel c;
            while ((c = q.pollFirst()) != null) c.close();
        }
    }
}
