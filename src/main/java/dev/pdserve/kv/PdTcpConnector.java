package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.engine.EngineException;
import dev.pdserve.engine.KvConnector;
import dev.pdserve.model.KvCache;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.Collections;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The engine's KV connector over pdserve's TCP protocol: a {@link KvProducer} for
 * {@code kv_producer}/{@code kv_both}, a {@link KvConsumer} for {@code kv_consumer}/{@code kv_both}.
 * Pulls run on virtual threads, never on the engine's step loop.
 */
public final class PdTcpConnector implements KvConnector {
    private static final Logger LOG = Logger.getLogger(PdTcpConnector.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final KvTransferConfig config;
    private final KvPeerInfo me;
    private final KvCache cache;
    private final KvProducer producer;
    private final KvConsumer consumer;
    private final String advertisedHost;

    /** A validated remote prefill: the producer's params, and the prompt the lease must hold. */
    private record Pull(KvTransferParams params, int[] promptTokens) implements Plan {
        @Override public Kind kind() { return Kind.REMOTE_PREFILL; }

        @Override public int numBlocks() { return params.remoteBlockIds().length; }
    }

    private static final Plan REMOTE_DECODE = () -> Kind.REMOTE_DECODE;

    /**
     * Starts the producer's server (when the role produces) on {@code kv_ip:kv_port}.
     * {@code serveHost} is the API's --host: what to advertise when kv_ip is a wildcard.
     */
    public PdTcpConnector(KvTransferConfig config, KvPeerInfo me, KvCache cache, String serveHost) {
        this(config, me, cache, serveHost, LeaseTimer.system());
    }

    /** As {@link #PdTcpConnector(KvTransferConfig, KvPeerInfo, KvCache, String)}, with the producer's leases timed by {@code leaseTimer}. */
    public PdTcpConnector(KvTransferConfig config, KvPeerInfo me, KvCache cache, String serveHost, LeaseTimer leaseTimer) {
        this.config = config;
        this.me = me;
        this.cache = cache;
        try {
            this.producer = config.role().produces() ? KvProducer.start(config, me, cache, leaseTimer) : null;
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
        if (producer == null) leaseTimer.close();
        this.consumer = config.role().consumes() ? new KvConsumer(config, me) : null;
        this.advertisedHost = advertisedHost(config.ip(), serveHost);
        LOG.info("KV connector " + KvTransferConfig.CONNECTOR + ": role " + config.role().wire()
                + (producer != null ? ", serving KV on " + config.ip() + ":" + producer.port() + " (advertised as " + advertisedHost + ")" : "")
                + ", engine_id " + me.engineId() + ", lease " + config.lease().toMillis() + " ms, kv_load_failure_policy "
                + config.loadFailurePolicy().name().toLowerCase() + ", cluster token " + (config.clusterToken().isEmpty() ? "none" : "set"));
    }

    /**
     * kv_ip as a consumer can reach it: a wildcard becomes --host, else this machine's first
     * up, non-loopback IPv4 address (getLocalHost alone is often 127.0.1.1 on Debian), else loopback.
     */
    static String advertisedHost(String kvIp, String serveHost) {
        if (!isWildcard(kvIp)) return kvIp;
        if (serveHost != null && !serveHost.isBlank() && !isWildcard(serveHost)) return serveHost;
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp() || nic.isLoopback()) continue;
                for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                    if (a instanceof Inet4Address && !a.isLinkLocalAddress()) return a.getHostAddress();
                }
            }
            return InetAddress.getLocalHost().getHostAddress();
        } catch (IOException e) {
            return "127.0.0.1";
        }
    }

    private static boolean isWildcard(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
    }

    /** The producer's KV port (for tests and logs); -1 without a producer. */
    public int producerPort() { return producer == null ? -1 : producer.port(); }

    @Override
    public Plan plan(JsonNode json, int[] promptTokens) {
        int numPromptTokens = promptTokens.length;
        KvTransferParams p;
        try {
            p = KvTransferParams.parse(json);
        } catch (KvTransferParams.Invalid e) {
            throw new EngineException(400, e.param(), e.getMessage());
        }
        if (p == null) return NONE;
        if (p.doRemoteDecode()) {
            if (producer == null) {
                throw new EngineException(400, "kv_transfer_params.do_remote_decode", "kv_transfer_params.do_remote_decode needs a kv_producer or kv_both instance; this one is "
                        + config.role().wire());
            }
            return REMOTE_DECODE;
        }
        if (!p.doRemotePrefill()) return NONE;
        if (consumer == null) {
            throw new EngineException(400, "kv_transfer_params.do_remote_prefill", "kv_transfer_params.do_remote_prefill needs a kv_consumer or kv_both instance; this one is "
                    + config.role().wire());
        }
        String why = p.incompatibilityWith(me);
        if (why != null) throw new EngineException(400, "kv_transfer_params", "cannot use the KV of " + p.remoteHost() + ":" + p.remotePort() + ": " + why);
        if (!config.allowsProducer(p.remoteHost(), p.remotePort())) {
            throw new EngineException(400, "kv_transfer_params.remote_host", "kv_transfer_params: " + consumer.notAllowed(p.remoteHost(), p.remotePort()));
        }
        if (p.numComputedTokens() != null && p.numComputedTokens() != numPromptTokens) {
            throw new EngineException(400, "kv_transfer_params.num_computed_tokens", "kv_transfer_params.num_computed_tokens is "
                    + p.numComputedTokens() + " but the prompt has " + numPromptTokens + " tokens here (different prompt or tokenizer than the prefill instance's)");
        }
        int need = (numPromptTokens + me.blockSize() - 1) / me.blockSize();
        if (p.remoteBlockIds().length != need) {
            throw new EngineException(400, "kv_transfer_params.remote_block_ids", "kv_transfer_params.remote_block_ids has "
                    + p.remoteBlockIds().length + " blocks but the prompt's " + numPromptTokens + " tokens need " + need + " blocks of " + me.blockSize());
        }
        return new Pull(p, promptTokens.clone());
    }

    @Override
    public JsonNode lease(String requestId, int[] blockIds, int[] promptTokens, Runnable free) {
        producer.lease(requestId, blockIds, promptTokens, free);
        return JSON.valueToTree(KvTransferParams.remotePrefill(me, advertisedHost, producer.port(), requestId, blockIds, promptTokens.length));
    }

    @Override
    public void pull(Plan plan, int[] localBlockIds, Consumer<PullFailure> done) {
        Pull pull = (Pull) plan;
        KvTransferParams p = pull.params();
        Thread.ofVirtual().name("pdserve-kv-pull-" + p.remoteRequestId()).start(() -> {
            PullFailure failure = null;
            String from = "KV transfer from prefill instance " + p.remoteHost() + ":" + p.remotePort();
            try {
                consumer.pull(p, pull.promptTokens(), cache, localBlockIds);
            } catch (KvTransferException e) {
                failure = new PullFailure(e.status(), from + (e.status() < 500 ? " refused: " : " failed: ") + e.getMessage());
            } catch (RuntimeException e) {
                failure = new PullFailure(502, from + " failed: " + e);
            }
            if (failure != null) LOG.warning(failure.message());
            done.accept(failure);
        });
    }

    @Override
    public void release(Plan plan) {
        if (!(plan instanceof Pull pull) || consumer == null) return;
        Thread.ofVirtual().name("pdserve-kv-release-" + pull.params().remoteRequestId()).start(() -> consumer.release(pull.params(), pull.promptTokens()));
    }

    @Override
    public boolean reclaimLease() {
        return producer != null && producer.reclaimOldest("a request waits for KV blocks that leases hold");
    }

    @Override
    public String role() { return config.role().wire(); }

    @Override
    public boolean recomputeOnFailure() { return config.loadFailurePolicy() == KvTransferConfig.FailurePolicy.RECOMPUTE; }

    @Override
    public Stats stats() {
        long sent = producer == null ? 0 : producer.bytesSent();
        long received = consumer == null ? 0 : consumer.bytesReceived();
        double seconds = (producer == null ? 0 : producer.transferSeconds()) + (consumer == null ? 0 : consumer.transferSeconds());
        long transfers = (producer == null ? 0 : producer.transfersCompleted()) + (consumer == null ? 0 : consumer.pullsCompleted());
        return new Stats(sent, received, seconds, transfers, producer == null ? 0 : producer.blocksLeased(),
                producer == null ? 0 : producer.leasesExpired(), producer == null ? 0 : producer.leasesReclaimed(),
                producer == null ? 0 : producer.connectionsRefused() + producer.handshakesRefused());
    }

    @Override
    public void close() {
        if (consumer != null) consumer.close();
        if (producer != null) producer.close();
    }
}
