package dev.pdserve.kv;

import dev.pdserve.ManualClock;
import dev.pdserve.engine.PagedKvCache;
import org.junit.jupiter.api.Test;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.pdserve.Await.until;
import static dev.pdserve.kv.KvTestSupport.PROMPT;
import static dev.pdserve.kv.KvTestSupport.config;
import static dev.pdserve.kv.KvTestSupport.info;
import static dev.pdserve.kv.KvTestSupport.sameBlocks;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Hostile peers on real loopback sockets: pulls of another prompt's KV, peers that do not speak the
 * protocol, garbage and oversized frames before the handshake, floods of unauthenticated connections,
 * and leases nobody pulls. After each, the producer still serves a well-behaved consumer.
 */
class KvHostilePeerTest {
    private static final int LAYERS = 2, ENTRY = 64, BLOCK = 16;
    private static final int[] OTHER_PROMPT = {101, 7, 43};
    private final KvPeerInfo pInfo = info("prefill-1", BLOCK, LAYERS, ENTRY);
    private final KvPeerInfo cInfo = info("decode-1", BLOCK, LAYERS, ENTRY);
    private final ManualClock clock = new ManualClock();

    private KvProducer producer(String extra, PagedKvCache cache) throws IOException {
        return KvProducer.start(config("kv_producer", extra), pInfo, cache, clock);
    }

    @Test
    void anotherPromptCannotPullOrReleaseTheLease() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            KvTestSupport.fill(pCache, LAYERS, 1);
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", new int[]{3, 5}, PROMPT, freed::incrementAndGet);
            int port = producer.port();
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{3, 5}, OTHER_PROMPT, cCache, new int[]{0, 1}))
                    .isInstanceOfSatisfying(KvTransferException.class, e -> assertThat(e.status()).isEqualTo(400))
                    .hasMessageContaining("prompt mismatch: the KV leased for request r1 holds another prompt");
            // A RELEASE for another prompt (a hostile request that gives up) frees nothing either.
            KvTransferParams params = KvTransferParams.remotePrefill(pInfo, "127.0.0.1", port, "r1", new int[]{3, 5}, OTHER_PROMPT.length);
            consumer.release(params, OTHER_PROMPT);
            assertThat(producer.pullsRefused()).isEqualTo(2);
            assertThat(freed.get()).isZero();
            assertThat(producer.isLeased("r1")).as("the lease is left for its rightful owner").isTrue();
            consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{3, 5}, PROMPT, cCache, new int[]{6, 2});
            assertThat(sameBlocks(pCache, new int[]{3, 5}, cCache, new int[]{6, 2}, LAYERS)).isTrue();
            assertThat(freed.get()).isEqualTo(1);
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{3, 5}, PROMPT, cCache, new int[]{6, 2}))
                    .as("a replay").hasMessageContaining("no leased KV for request r1");
            assertThat(consumer.connectionsOpened()).as("refusals keep the connection").isEqualTo(1);
        }
    }

    @Test
    void theRightPromptReleasesAnUnpulledLeaseAtOnce() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); KvProducer producer = producer("", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", new int[]{1}, PROMPT, freed::incrementAndGet);
            consumer.release(KvTransferParams.remotePrefill(pInfo, "127.0.0.1", producer.port(), "r1", new int[]{1}, PROMPT.length), PROMPT);
            assertThat(freed.get()).isEqualTo(1);
            assertThat(producer.leasesExpired()).isZero();
            assertThat(producer.blocksLeased()).isZero();
        }
    }

    @Test
    void aPeerThatNeverAnswersFailsWithinTheHandshakeDeadline() throws Exception {
        // A listener that accepts and never says a word, and one that answers like an HTTP server.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             ServerSocket http = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", "\"handshake_timeout_ms\":300"), cInfo)) {
            List<Socket> held = new ArrayList<>();
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) held.add(silent.accept());
                } catch (IOException ignored) {
                    // closed
                }
            });
            Thread.ofVirtual().start(() -> {
                try (Socket s = http.accept()) {
                    s.getInputStream().read(new byte[64]);
                    s.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.getInputStream().read(); // keeps the connection open: the consumer must give up on its own
                } catch (IOException ignored) {
                    // closed
                }
            });
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", silent.getLocalPort(), "prefill-1", "r1", new int[]{1}, PROMPT, cCache, new int[]{2}))
                    .isInstanceOfSatisfying(KvTransferException.class, e -> assertThat(e.status()).isEqualTo(502))
                    .hasMessageContaining("the handshake took longer than handshake_timeout_ms (300 ms)");
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", http.getLocalPort(), "prefill-1", "r1", new int[]{1}, PROMPT, cCache, new int[]{2}))
                    .hasMessageContaining("limit 4096 before the handshake is done: not a pdserve KV peer?");
            for (Socket s : held) s.close();
        }
    }

    @Test
    void onlyAllowedPrefillAddressesArePulledFrom() throws Exception {
        KvTransferConfig c = config("kv_consumer", "\"allowed_prefill_addresses\":[\"10.0.0.7\",\"localhost:14579\",\"[::1]:9\"]");
        assertThat(c.allowsProducer("10.0.0.7", 1)).isTrue();
        assertThat(c.allowsProducer("127.0.0.1", 14579)).isTrue();
        assertThat(c.allowsProducer("127.0.0.1", 14580)).isFalse();
        assertThat(c.allowsProducer("::1", 9)).isTrue();
        assertThat(c.allowsProducer("10.0.0.8", 1)).isFalse();
        assertThat(config("kv_consumer", "").allowsProducer("anything", 1)).isTrue();
        assertThatThrownBy(() -> config("kv_consumer", "\"allowed_prefill_addresses\":[1]"))
                .hasMessageContaining("kv_connector_extra_config.allowed_prefill_addresses");
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("", pCache); KvConsumer consumer = new KvConsumer(c, cInfo)) {
            producer.lease("r1", new int[]{1}, PROMPT, () -> { });
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{1}, PROMPT, cCache, new int[]{2}))
                    .isInstanceOfSatisfying(KvTransferException.class, e -> assertThat(e.status()).isEqualTo(400))
                    .hasMessageContaining("is not in kv_connector_extra_config.allowed_prefill_addresses");
            assertThat(consumer.connectionsOpened()).as("refused before connecting").isZero();
        }
    }

    @Test
    void garbageAndHugeFramesBeforeTheHandshakeCostNoMemoryAndAreClosed() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            // A HELLO that announces 16 MiB (the old limit), then nothing: refused on the header, never allocated.
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), producer.port())) {
                s.setSoTimeout(30_000);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.writeByte(KvChannel.HELLO);
                out.writeInt(16 << 20);
                out.flush();
                assertThat(drain(s.getInputStream())).as("the producer closes the connection").isEqualTo(-1);
            }
            // HTTP on the KV port.
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), producer.port())) {
                s.setSoTimeout(30_000);
                s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(drain(s.getInputStream())).isEqualTo(-1);
            }
            // An idle connection that never sends HELLO is closed after handshake_timeout_ms.
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), producer.port())) {
                s.setSoTimeout(30_000);
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            until("the three refusals to be counted", () -> producer.handshakesRefused() == 3);
            producer.lease("r1", new int[]{1}, PROMPT, () -> { });
            consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{1}, PROMPT, cCache, new int[]{2});
        }
    }

    /** Reads until the producer closed the connection (a FIN, or a reset: it closed with our bytes unread); -1 then. */
    private static int drain(InputStream in) throws IOException {
        try {
            int b;
            while ((b = in.read()) >= 0) {
                // an ERROR frame may come first
            }
            return b;
        } catch (java.net.SocketException e) {
            return -1;
        }
    }

    @Test
    void unauthenticatedConnectionsAreCappedAndServiceComesBack() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("\"handshake_timeout_ms\":600000", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < KvProducer.MAX_UNAUTHENTICATED_PER_PEER; i++) idle.add(new Socket(InetAddress.getLoopbackAddress(), producer.port()));
                until("the producer to hold them all", () -> producer.unauthenticatedConnections() == KvProducer.MAX_UNAUTHENTICATED_PER_PEER);
                try (Socket extra = new Socket(InetAddress.getLoopbackAddress(), producer.port())) {
                    extra.setSoTimeout(30_000);
                    assertThat(extra.getInputStream().read()).as("one more from the same address is closed at once").isEqualTo(-1);
                }
                assertThat(producer.connectionsRefused()).isEqualTo(1);
            } finally {
                for (Socket s : idle) s.close();
            }
            until("the idle connections to be gone", () -> producer.unauthenticatedConnections() == 0);
            producer.lease("r1", new int[]{1}, PROMPT, () -> { });
            consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{1}, PROMPT, cCache, new int[]{2});
        }
    }

    @Test
    void leasesHoldAtMostTheirShareOfThePoolAndTheOldestGoesFirst() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("\"max_leased_fraction\":0.5", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            AtomicInteger f1 = new AtomicInteger(), f2 = new AtomicInteger(), f3 = new AtomicInteger();
            producer.lease("r1", new int[]{0, 1}, PROMPT, f1::incrementAndGet);
            producer.lease("r2", new int[]{2, 3}, PROMPT, f2::incrementAndGet);
            assertThat(producer.blocksLeased()).isEqualTo(4);
            producer.lease("r3", new int[]{4, 5}, PROMPT, f3::incrementAndGet); // 6 > 4 of 8: r1, the oldest, is reclaimed
            assertThat(f1.get()).isEqualTo(1);
            assertThat(f2.get() + f3.get()).isZero();
            assertThat(producer.blocksLeased()).isEqualTo(4);
            assertThat(producer.leasesReclaimed()).isEqualTo(1);
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{0, 1}, PROMPT, cCache, new int[]{0, 1}))
                    .hasMessageContaining("no leased KV for request r1");
            // The engine short of blocks asks for one more.
            assertThat(producer.reclaimOldest("test")).isTrue();
            assertThat(f2.get()).isEqualTo(1);
            consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r3", new int[]{4, 5}, PROMPT, cCache, new int[]{0, 1});
            assertThat(f3.get()).isEqualTo(1);
            assertThat(producer.reclaimOldest("test")).as("nothing left").isFalse();
            clock.advance(java.time.Duration.ofHours(1));
            assertThat(f1.get() + f2.get() + f3.get()).as("each freed once").isEqualTo(3);
            assertThat(producer.leasesExpired()).isZero();
            assertThat(producer.leasesReclaimed()).isEqualTo(2);
        }
    }
}
