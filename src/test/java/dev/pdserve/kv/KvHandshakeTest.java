package dev.pdserve.kv;

import dev.pdserve.engine.PagedKvCache;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static dev.pdserve.kv.KvTestSupport.config;
import static dev.pdserve.kv.KvTestSupport.info;
import static dev.pdserve.kv.KvTestSupport.PROMPT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Real loopback connections between mismatched peers are refused with messages naming both sides' values. */
class KvHandshakeTest {
    private static final int LAYERS = 2, ENTRY = 8, BLOCK = 16;

    private static String pullError(KvTransferConfig pCfg, KvPeerInfo pInfo, KvTransferConfig cCfg, KvPeerInfo cInfo) throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 4);
             PagedKvCache cCache = KvTestSupport.cache(cInfo, 4);
             KvProducer producer = KvProducer.start(pCfg, pInfo, pCache);
             KvConsumer consumer = new KvConsumer(cCfg, cInfo)) {
            producer.lease("r", new int[]{1}, PROMPT, () -> { });
            try {
                consumer.pull("127.0.0.1", producer.port(), pInfo.engineId(), "r", new int[]{1}, PROMPT, cCache, new int[]{2});
            } catch (KvTransferException e) {
                assertThat(producer.isLeased("r")).as("a refused consumer frees nothing").isTrue();
                until("the producer to count the refusal", () -> producer.handshakesRefused() == 1);
                return e.getMessage();
            }
            throw new AssertionError("the pull should have been refused");
        }
    }

    @Test
    void wrongClusterTokenIsRefusedByTheProducer() throws Exception {
        String msg = pullError(config("kv_producer", "\"cluster_token\":\"alpha\""), info("p", BLOCK, LAYERS, ENTRY),
                config("kv_consumer", "\"cluster_token\":\"beta\""), info("c", BLOCK, LAYERS, ENTRY));
        assertThat(msg).contains("cluster token mismatch: the consumer's HMAC proof does not match the producer's cluster_token")
                .doesNotContain("alpha").doesNotContain("beta");
    }

    @Test
    void wrongClusterTokenIsRefusedByTheConsumer() throws Exception {
        // A fake producer that claims a token but cannot prove it (it answers with a wrong HMAC and skips checking ours).
        KvPeerInfo pInfo = info("fake", BLOCK, LAYERS, ENTRY);
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             PagedKvCache cCache = KvTestSupport.cache(pInfo, 4);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", "\"cluster_token\":\"beta\""), info("c", BLOCK, LAYERS, ENTRY))) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            CompletableFuture<String> seenByFake = CompletableFuture.supplyAsync(() -> {
                try (KvChannel c = new KvChannel(server.accept(), "consumer", 2000)) {
                    c.read("HELLO", false);
                    c.start();
                    c.putInt(KvHandshake.MAGIC).putInt(KvPeerInfo.PROTOCOL_VERSION).putString("fake").putString("boot").putString("sha256:synthetic")
                            .putString("test-layout").putString(KvPeerInfo.nativeF32()).putInt(BLOCK).putInt(LAYERS).putInt(ENTRY)
                            .putByte(1).putBytes(new byte[32]);
                    c.send(KvChannel.HELLO, "HELLO");
                    c.read("AUTH", false);
                    c.start();
                    c.putBytes(KvHandshake.hmac("alpha", "producer", new byte[32], new byte[32]));
                    c.send(KvChannel.AUTH, "AUTH");
                    KvChannel.Frame f = c.read("the consumer's verdict", false);
                    return KvChannel.name(f.type()) + ": " + f.string();
                } catch (Exception e) {
                    return e.toString();
                }
            });
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, null, "r", new int[]{1}, PROMPT, cCache, new int[]{1}))
                    .isInstanceOf(KvTransferException.class)
                    .hasMessageContaining("cluster token mismatch: the producer's HMAC proof does not match the consumer's cluster_token");
            assertThat(seenByFake.get(5, TimeUnit.SECONDS)).startsWith("ERROR: cluster token mismatch");
        }
    }

    @Test
    void aTokenOnOneSideOnlyIsRefused() throws Exception {
        String msg = pullError(config("kv_producer", "\"cluster_token\":\"alpha\""), info("p", BLOCK, LAYERS, ENTRY),
                config("kv_consumer", ""), info("c", BLOCK, LAYERS, ENTRY));
        assertThat(msg).contains("cluster token mismatch: producer has a cluster_token, consumer has none");
    }

    @Test
    void blockSizeMismatchNamesBothValues() throws Exception {
        String msg = pullError(config("kv_producer", ""), info("p", 16, LAYERS, ENTRY), config("kv_consumer", ""), info("c", 32, LAYERS, ENTRY));
        assertThat(msg).contains("block size mismatch: producer 16, consumer 32");
    }

    @Test
    void fingerprintLayoutAndLayerMismatchesNameBothValues() throws Exception {
        KvPeerInfo p = info("p", BLOCK, LAYERS, ENTRY);
        KvPeerInfo c = new KvPeerInfo(KvPeerInfo.PROTOCOL_VERSION, "c", "boot", "sha256:other", BLOCK, "other-layout", p.dtype(), LAYERS + 1, ENTRY);
        String msg = pullError(config("kv_producer", ""), p, config("kv_consumer", ""), c);
        assertThat(msg).contains("model fingerprint mismatch: producer sha256:synthetic, consumer sha256:other")
                .contains("KV layout mismatch: producer test-layout, consumer other-layout")
                .contains("layer count mismatch: producer 2, consumer 3");
    }

    @Test
    void transferParamsAreCheckedBeforeConnecting() throws Exception {
        KvPeerInfo c = info("c", BLOCK, LAYERS, ENTRY);
        KvTransferParams p = new KvTransferParams(false, true, "p", new int[]{1}, "127.0.0.1", 1, "r", 32, "mla-x", "sha256:zzz", 16);
        try (PagedKvCache cache = KvTestSupport.cache(c, 4); KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), c)) {
            assertThatThrownBy(() -> consumer.pull(p, PROMPT, cache, new int[]{0}))
                    .hasMessageContaining("block size mismatch: producer 32, consumer 16")
                    .hasMessageContaining("KV layout mismatch: producer mla-x, consumer test-layout")
                    .hasMessageContaining("model fingerprint mismatch: producer sha256:zzz, consumer sha256:synthetic");
            assertThat(consumer.connectionsOpened()).isZero();
        }
    }

    @Test
    void aProducerThatIsNotTheNamedEngineIsRefused() throws Exception {
        KvPeerInfo p = info("prefill-A", BLOCK, LAYERS, ENTRY);
        try (PagedKvCache pCache = KvTestSupport.cache(p, 4); PagedKvCache cCache = KvTestSupport.cache(p, 4);
             KvProducer producer = KvProducer.start(config("kv_producer", ""), p, pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), info("c", BLOCK, LAYERS, ENTRY))) {
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", producer.port(), "prefill-B", "r", new int[]{1}, PROMPT, cCache, new int[]{1}))
                    .hasMessageContaining("engine id mismatch: kv_transfer_params name remote_engine_id prefill-B but the producer at 127.0.0.1:"
                            + producer.port() + " is engine prefill-A");
        }
    }

    @Test
    void aSilentPeerTimesOut() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             PagedKvCache cCache = KvTestSupport.cache(info("c", BLOCK, LAYERS, ENTRY), 4);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", "\"read_timeout_ms\":200"), info("c", BLOCK, LAYERS, ENTRY))) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (Exception e) {
                    return null;
                }
            });
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, null, "r", new int[]{1}, PROMPT, cCache, new int[]{1}))
                    .hasMessageContaining("timed out while waiting for the producer's HELLO");
            assertThat((System.nanoTime() - t0) / 1e6).isLessThan(3000);
            accepted.get(5, TimeUnit.SECONDS).close();
        }
    }
}
