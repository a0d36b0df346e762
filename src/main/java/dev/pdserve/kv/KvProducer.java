package dev.pdserve.kv;

import dev.pdserve.model.KvCache;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
    private final LongAdder leasesReclaimed = new LongAdder();
    private final LongAdder pullsRefused = new LongAdder();
    private final AtomicLong connectionsRefused = new AtomicLong();
    private final AtomicLong leaseSeq = new AtomicLong();
    /** Connections not through the handshake yet, in total and per peer address: bounded before anyone is authenticated. */
    private final AtomicInteger unauthenticated = new AtomicInteger();
    private final Map<InetAddress, Integer> unauthenticatedPerPeer = new ConcurrentHashMap<>();
    static final int MAX_UNAUTHENTICATED = 256, MAX_UNAUTHENTICATED_PER_PEER = 64;

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
     * out or {@link #abort}; then runs {@code free} exactly once (on a transfer or timer thread,
     * or on this one when the lease is reclaimed at once). The lease is bound to {@code promptTokens}:
     * only a PULL or RELEASE with the same {@link PromptHash} touches it. When leases would hold more
     * than {@code max_leased_fraction} of the pool, the oldest ones not being sent are reclaimed first.
     */
    public void lease(String requestId, int[] blockIds, int[] promptTokens, Runnable free) {
        if (closed) throw new IllegalStateException("the KV producer is closed");
        for (int b : blockIds) {
            if (b < 0 || b >= cache.numBlocks()) throw new IllegalArgumentException("block id " + b + " is out of range: the cache has " + cache.numBlocks() + " blocks");
        }
        long cap = Math.max(1, (long) Math.floor(config.maxLeasedFraction() * cache.numBlocks()));
        while (blocksLeased.get() + blockIds.length > cap && reclaimOldest("max_leased_fraction " + config.maxLeasedFraction() + " of the pool is leased")) {
            // each round frees the oldest idle lease
        }
        long leaseNanos = config.lease().toNanos();
        Lease lease = new Lease(requestId, blockIds.clone(), PromptHash.of(info.modelFingerprint(), promptTokens), leaseSeq.incrementAndGet(), free);
        if (leases.putIfAbsent(requestId, lease) != null) throw new IllegalStateException("request " + requestId + " already has leased KV");
        blocksLeased.addAndGet(blockIds.length);
        timers.schedule(() -> expire(lease), leaseNanos);
    }

    /**
     * Frees the oldest lease that is not being sent, because new work needs its blocks ({@code why},
     * logged); false when there is none. Its consumer, should it still come, is told it expired.
     */
    public boolean reclaimOldest(String why) {
        while (true) {
            Lease oldest = null;
            for (Lease l : leases.values()) if (!l.isTransferring() && (oldest == null || l.seq < oldest.seq)) oldest = l;
            if (oldest == null) return false;
            if (!oldest.tryClaimFree()) continue; // a transfer began or it ended meanwhile: look again
            leasesReclaimed.increment();
            LOG.warning("reclaimed the KV lease of request " + oldest.requestId + " (" + oldest.blockIds.length + " blocks) before it was pulled: " + why);
            free(oldest);
            return true;
        }
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

    /** Leases freed before they were pulled or ran out, because the pool needed their blocks ({@code pdserve:kv_lease_reclaimed_total}). */
    public long leasesReclaimed() { return leasesReclaimed.sum(); }

    /** PULLs and RELEASEs refused because their prompt or block list is not the lease's. */
    public long pullsRefused() { return pullsRefused.sum(); }

    /** Connections not through the handshake yet. */
    public int unauthenticatedConnections() { return unauthenticated.get(); }

    /** Connections closed at once because too many were not through the handshake yet. */
    public long connectionsRefused() { return connectionsRefused.get(); }

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
        InetAddress from = null;
        try {
            sc.setOption(StandardSocketOptions.TCP_NODELAY, true);
            sc.setOption(StandardSocketOptions.SO_KEEPALIVE, true); // idle pooled connections of vanished hosts go away
            InetSocketAddress remote = (InetSocketAddress) sc.getRemoteAddress();
            from = remote.getAddress();
            peer = remote.toString();
        } catch (IOException e) {
            peer = "consumer";
        }
        KvChannel c = new KvChannel(sc, "consumer " + peer, config.readTimeoutMs());
        connections.add(c);
        if (closed) c.close();
        InetAddress address = from == null ? InetAddress.getLoopbackAddress() : from;
        boolean counted = true;
        try {
            int total = unauthenticated.incrementAndGet(), mine = unauthenticatedPerPeer.merge(address, 1, Integer::sum);
            if (total > MAX_UNAUTHENTICATED || mine > MAX_UNAUTHENTICATED_PER_PEER) {
                long n = connectionsRefused.incrementAndGet();
                if (Long.bitCount(n) == 1) { // 1, 2, 4, 8, ...: a flood is logged, not every connection of it
                    LOG.warning("refused a KV connection from " + peer + ": " + total + " connections (" + mine + " from that address) are not through the handshake yet; "
                            + n + " refused so far");
                }
                return;
            }
            // Everything before the handshake is done, HELLO to AUTH, is bounded. The consumer fails fast at
            // handshake_timeout_ms; the producer only has to shed idle strangers, so it allows a loaded consumer 5x.
            c.startTotal(5L * config.handshakeTimeoutMs(), "the handshake took longer than 5 x handshake_timeout_ms");
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
            c.endTotal();
            c.authenticated();
            uncount(address);
            counted = false;
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
            if (closed) return;
            if (counted) {
                handshakesRefused.increment();
                LOG.fine("KV connection from " + peer + " failed before the handshake was done: " + e.getMessage());
            } else {
                LOG.warning("KV connection from " + peer + " failed: " + e.getMessage());
            }
        } finally {
            if (counted) uncount(address);
            connections.remove(c);
            c.close();
        }
    }

    private void uncount(InetAddress address) {
        unauthenticated.decrementAndGet();
        unauthenticatedPerPeer.computeIfPresent(address, (a, n) -> n == 1 ? null : n - 1);
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
        byte[] promptHash = f.bytes();
        Lease lease = leases.get(requestId);
        if (lease == null) {
            c.sendError("no leased KV for request " + requestId + " (expired or already released)");
            return;
        }
        // The request's own fault (another prompt, a block list that is not the lease's): refused, the lease stays for its owner.
        String wrong = !MessageDigest.isEqual(promptHash, lease.promptHash) ? promptMismatch(requestId) : checkBlocks(lease, ids);
        if (wrong != null) {
            pullsRefused.increment();
            c.sendRefused(400, wrong);
            return;
        }
        String bad = lease.beginTransfer();
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

    private static String promptMismatch(String requestId) {
        return "prompt mismatch: the KV leased for request " + requestId + " holds another prompt than the one this request sends "
                + "(kv_transfer_params belong to another request)";
    }

    /** A PULL names exactly the lease's blocks, in the lease's order: anything else would decode from the wrong KV. */
    private String checkBlocks(Lease lease, int[] ids) {
        if (Arrays.equals(ids, lease.blockIds)) return null;
        for (int b : ids) {
            if (b < 0 || b >= cache.numBlocks()) {
                return "block id " + b + " is out of range: the producer's cache has " + cache.numBlocks() + " blocks";
            }
        }
        return "block list mismatch: request " + lease.requestId + " leased blocks " + abbreviate(lease.blockIds)
                + ", the pull names " + abbreviate(ids) + " (remote_block_ids must be the lease's, complete and in order)";
    }

    private static String abbreviate(int[] ids) {
        return ids.length <= 32 ? Arrays.toString(ids) : Arrays.toString(Arrays.copyOf(ids, 32)).replace("]", ", ... (" + ids.length + " ids)]");
    }

    /** Frees the lease when the RELEASE names its prompt; one for another prompt frees nothing. */
    private void serveRelease(KvChannel c, KvChannel.Frame f) throws IOException {
        String requestId = f.string();
        byte[] promptHash = f.bytes();
        Lease lease = leases.get(requestId);
        if (lease != null && !MessageDigest.isEqual(promptHash, lease.promptHash)) {
            pullsRefused.increment();
            c.sendRefused(400, promptMismatch(requestId));
            return;
        }
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
