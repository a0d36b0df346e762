package dev.pdserve.kv;

import dev.pdserve.model.KvCache;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The prefill side: a TCP server on {@code kv_ip:kv_port} (one virtual thread per connection)
 * that sends leased KV blocks straight from the off-heap cache to consumers that PULL them.
 * The engine calls {@link #lease} when a prefill-only request finishes and must not touch those
 * blocks until the lease's {@code free} runs: after the consumer's RELEASE, when the lease runs
 * out, or after {@link #abort}.
 */
public final class KvProducer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KvProducer.class.getName());

    private final KvTransferConfig config;
    private final KvPeerInfo info;
    private final KvCache cache;
    private final ServerSocketChannel server;
    private final Map<String, Lease> leases = new ConcurrentHashMap<>();
    private final Set<KvChannel> connections = ConcurrentHashMap.newKeySet();
    private final LeaseTimer timers;
    private final Thread acceptor;
    private volatile boolean closed;

    private final AtomicLong blocksLeased = new AtomicLong();
    private final LongAdder leasesExpired = new LongAdder();
    private final LongAdder bytesSent = new LongAdder();
    private final LongAdder transferNanos = new LongAdder();
    private final LongAdder transfersCompleted = new LongAdder();
    private final LongAdder transfersFailed = new LongAdder();
    private final LongAdder handshakesRefused = new LongAdder();
    private final LongAdder probesAnswered = new LongAdder();

    private KvProducer(KvTransferConfig config, KvPeerInfo info, KvCache cache, ServerSocketChannel server, LeaseTimer timers) {
        this.config = config;
        this.info = info;
        this.cache = cache;
        this.server = server;
        this.timers = timers;
        this.acceptor = Thread.ofVirtual().name("pdserve-kv-accept").start(this::acceptLoop);
    }

    /** Binds {@code config.ip():config.port()} (port 0: any free port, see {@link #port()}) and starts serving. */
    public static KvProducer start(KvTransferConfig config, KvPeerInfo info, KvCache cache) throws IOException {
        return start(config, info, cache, LeaseTimer.system());
    }

    /** As {@link #start(KvTransferConfig, KvPeerInfo, KvCache)}, with leases timed by {@code timers} (closed with the producer). */
    public static KvProducer start(KvTransferConfig config, KvPeerInfo info, KvCache cache, LeaseTimer timers) throws IOException {
        if (cache.blockSize() != info.blockSize() || cache.entryFloats() != info.entryFloats()) {
            timers.close();
            throw new IllegalArgumentException("cache (block size " + cache.blockSize() + ", entry floats " + cache.entryFloats()
                    + ") does not match the descriptor (" + info.blockSize() + ", " + info.entryFloats() + ")");
        }
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(new InetSocketAddress(config.ip(), config.port()), 128);
        } catch (IOException e) {
            server.close();
            timers.close();
            throw new IOException("cannot listen for KV transfers on " + config.ip() + ":" + config.port() + ": " + e.getMessage(), e);
        }
        return new KvProducer(config, info, cache, server, timers);
    }

    public int port() {
        return ((InetSocketAddress) server.socket().getLocalSocketAddress()).getPort();
    }

    public KvPeerInfo info() { return info; }

    /**
     * Keeps {@code blockIds} for {@code requestId} until pulled and released, the lease runs
     * out or {@link #abort}; then runs {@code free} exactly once (on a transfer or timer thread).
     */
    public void lease(String requestId, int[] blockIds, Runnable free) {
        if (closed) throw new IllegalStateException("the KV producer is closed");
        for (int b : blockIds) {
            if (b < 0 || b >= cache.numBlocks()) throw new IllegalArgumentException("block id " + b + " is out of range: the cache has " + cache.numBlocks() + " blocks");
        }
        long leaseNanos = config.lease().toNanos();
        Lease lease = new Lease(requestId, blockIds.clone(), free);
        if (leases.putIfAbsent(requestId, lease) != null) throw new IllegalStateException("request " + requestId + " already has leased KV");
        blocksLeased.addAndGet(blockIds.length);
        timers.schedule(() -> expire(lease), leaseNanos);
    }

    /** The engine dropped the request: frees its blocks now, or as soon as a transfer in progress stops. False if no lease. */
    public boolean abort(String requestId) {
        Lease lease = leases.get(requestId);
        if (lease == null) return false;
        if (lease.abort()) free(lease);
        return true;
    }

    public boolean isLeased(String requestId) { return leases.containsKey(requestId); }

    /** Blocks held by leases now ({@code pdserve:kv_blocks_leased}). */
    public long blocksLeased() { return blocksLeased.get(); }

    /** Leases that ran out unclaimed ({@code pdserve:kv_lease_expired_total}). */
    public long leasesExpired() { return leasesExpired.sum(); }

    /** KV payload bytes sent ({@code pdserve:kv_transfer_bytes_total}). */
    public long bytesSent() { return bytesSent.sum(); }

    /** Seconds spent sending KV ({@code pdserve:kv_transfer_seconds}). */
    public double transferSeconds() { return transferNanos.sum() / 1e9; }

    public long transfersCompleted() { return transfersCompleted.sum(); }

    public long transfersFailed() { return transfersFailed.sum(); }

    public long handshakesRefused() { return handshakesRefused.sum(); }

    /** PROBEs ({@code pdserve doctor}) answered with this producer's descriptor and, with a token, a good proof. */
    public long probesAnswered() { return probesAnswered.sum(); }

    private void expire(Lease lease) {
        if (leases.get(lease.requestId) != lease) return;
        if (lease.tryClaimFree()) {
            leasesExpired.increment();
            LOG.warning("KV lease of request " + lease.requestId + " expired after " + config.lease().toMillis() + " ms unclaimed; freeing " + lease.blockIds.length + " blocks");
            free(lease);
        } else if (lease.isTransferring() && !closed) {
            // Being sent right now: check again shortly; the transfer has its own timeout.
            timers.schedule(() -> expire(lease), TimeUnit.MILLISECONDS.toNanos(100));
        }
    }

    private void free(Lease lease) {
        leases.remove(lease.requestId, lease);
        blocksLeased.addAndGet(-lease.blockIds.length);
        try {
            lease.free();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "freeing the KV blocks of request " + lease.requestId + " failed", e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel sc;
            try {
                sc = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) LOG.warning("KV accept failed: " + e.getMessage());
                continue;
            }
            Thread.ofVirtual().name("pdserve-kv-conn").start(() -> serve(sc));
        }
    }

    private void serve(SocketChannel sc) {
        String peer;
        try {
            sc.setOption(StandardSocketOptions.TCP_NODELAY, true);
            sc.setOption(StandardSocketOptions.SO_KEEPALIVE, true); // idle pooled connections of vanished hosts go away
            peer = sc.getRemoteAddress().toString();
        } catch (IOException e) {
            peer = "consumer";
        }
        KvChannel c = new KvChannel(sc, "consumer " + peer, config.readTimeoutMs());
        connections.add(c);
        if (closed) c.close();
        try {
            KvChannel.Frame first = c.read("waiting for the consumer's HELLO", false);
            try {
                if (first.type() == KvChannel.PROBE) {
                    serveProbe(c, first, peer);
                    return;
                }
                KvHandshake.asProducer(c, first, info, config.clusterToken());
            } catch (KvHandshake.Refused r) {
                handshakesRefused.increment();
                LOG.warning("refused KV connection from " + peer + ": " + r.getMessage());
                return;
            }
            while (true) {
                KvChannel.Frame f = c.read("waiting for the next request", true);
                switch (f.type()) {
                    case KvChannel.PULL -> servePull(c, f);
                    case KvChannel.RELEASE -> serveRelease(c, f);
                    case KvChannel.BYE -> {
                        return;
                    }
                    default -> {
                        c.sendError("unexpected " + KvChannel.name(f.type()) + " frame");
                        return;
                    }
                }
            }
        } catch (EOFException | ClosedChannelException e) {
            LOG.fine("KV connection from " + peer + " closed");
        } catch (IOException e) {
            if (!closed) LOG.warning("KV connection from " + peer + " failed: " + e.getMessage());
        } finally {
            connections.remove(c);
            c.close();
        }
    }

    /** A doctor's PROBE: our descriptor and the token proof, then BYE; no blocks move and no lease is touched. */
    private void serveProbe(KvChannel c, KvChannel.Frame probe, String peer) throws IOException, KvHandshake.Refused {
        String prober = KvHandshake.answerProbe(c, probe, info, config.clusterToken());
        probesAnswered.increment();
        LOG.fine("answered a KV probe from " + prober + " at " + peer);
        try {
            c.read("waiting for the probe's BYE", false); // BYE, or the prober just closes
        } catch (EOFException | ClosedChannelException ignored) {
            // a prober may close without BYE
        }
    }

    private void servePull(KvChannel c, KvChannel.Frame f) throws IOException {
        String requestId = f.string();
        int[] ids = f.ints();
        Lease lease = leases.get(requestId);
        if (lease == null) {
            c.sendError("no leased KV for request " + requestId + " (expired or already released)");
            return;
        }
        String bad = checkBlocks(lease, ids);
        if (bad == null) bad = lease.beginTransfer();
        if (bad != null) {
            c.sendError(bad);
            return;
        }
        long start = System.nanoTime();
        boolean sent = false;
        try {
            int layers = info.numLayers();
            long blockBytes = info.bytesPerBlockLayer();
            ByteBuffer[] payload = new ByteBuffer[ids.length * layers];
            for (int i = 0; i < ids.length; i++) {
                for (int l = 0; l < layers; l++) {
                    payload[i * layers + l] = cache.layer(l).asSlice(ids[i] * blockBytes, blockBytes).asByteBuffer();
                }
            }
            c.startTotal(config.transferTimeoutMs());
            c.start();
            c.putString(requestId).putInt(ids.length).putInt(layers).putInt((int) blockBytes);
            c.send(KvChannel.BLOCKS, "BLOCKS of request " + requestId);
            c.writeFully(payload, 0, payload.length, "sending the KV of request " + requestId);
            c.start();
            c.putString(requestId);
            if (lease.isAborted()) {
                c.sendError("request " + requestId + " was aborted on the producer during the transfer");
            } else {
                c.send(KvChannel.DONE, "DONE");
                sent = true;
            }
        } finally {
            c.endTotal();
            // The lease stops being sent before the transfer is counted: whoever sees the count can expire it.
            boolean freeNow = lease.endTransfer();
            long nanos = System.nanoTime() - start;
            transferNanos.add(nanos);
            if (sent) {
                transfersCompleted.increment();
                bytesSent.add((long) ids.length * info.numLayers() * info.bytesPerBlockLayer());
            } else {
                transfersFailed.increment();
            }
            if (freeNow) free(lease);
        }
    }

    private String checkBlocks(Lease lease, int[] ids) {
        for (int b : ids) {
            if (b < 0 || b >= cache.numBlocks()) {
                return "block id " + b + " is out of range: the producer's cache has " + cache.numBlocks() + " blocks";
            }
            boolean leased = false;
            for (int l : lease.blockIds) leased |= l == b;
            if (!leased) {
                return "block " + b + " is not leased for request " + lease.requestId + " (leased blocks: " + Arrays.toString(lease.blockIds) + ")";
            }
        }
        return null;
    }

    private void serveRelease(KvChannel c, KvChannel.Frame f) throws IOException {
        String requestId = f.string();
        Lease lease = leases.get(requestId);
        if (lease != null && lease.tryClaimFree()) free(lease);
        c.start();
        c.putString(requestId);
        c.send(KvChannel.RELEASED, "RELEASED");
    }

    /** Stops serving, closes all connections and frees every lease still held. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // best effort
        }
        for (KvChannel c : connections) c.close();
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // A lease being sent is freed by its transfer thread when the closed connection stops it.
        for (Lease lease : leases.values()) if (lease.abort()) free(lease);
        timers.close();
    }
}
