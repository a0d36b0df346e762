package dev.pdserve.kv;

import dev.pdserve.ManualClock;
import dev.pdserve.engine.PagedKvCache;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.pdserve.Await.until;
import static dev.pdserve.kv.KvTestSupport.config;
import static dev.pdserve.kv.KvTestSupport.info;
import static dev.pdserve.kv.KvTestSupport.sameBlocks;
import static dev.pdserve.kv.KvTestSupport.PROMPT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Leases free their blocks exactly once, whatever happens to the consumer, and bad pulls free
 * nothing. Lease time is a {@link ManualClock}: a lease runs out when the test moves the clock past
 * it, and "nothing more happens" is checked after moving it far beyond, not after a sleep.
 */
class KvLeaseTest {
    // 64 KiB per block and layer, 256 KiB per block: big enough to outgrow socket buffers when needed.
    private static final int LAYERS = 4, ENTRY = 1024, BLOCK = 16;
    private static final Duration LEASE = Duration.ofSeconds(KvTransferConfig.DEFAULT_LEASE_SECONDS);
    private static final Duration JUST_BEFORE = LEASE.minusNanos(1), A_NANOSECOND = Duration.ofNanos(1);
    private final KvPeerInfo pInfo = info("prefill-1", BLOCK, LAYERS, ENTRY);
    private final KvPeerInfo cInfo = info("decode-1", BLOCK, LAYERS, ENTRY);
    private final ManualClock clock = new ManualClock();

    /** A producer on a free loopback port whose leases run by {@link #clock}. */
    private KvProducer producer(String extra, PagedKvCache cache) throws IOException {
        return KvProducer.start(config("kv_producer", extra), pInfo, cache, clock);
    }

    @Test
    void anUnclaimedLeaseExpiresAndFreesOnce() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", new int[]{1, 2}, PROMPT, freed::incrementAndGet);
            assertThat(producer.blocksLeased()).isEqualTo(2);
            clock.advance(JUST_BEFORE);
            assertThat(freed.get()).isZero();
            assertThat(producer.isLeased("r1")).isTrue();
            clock.advance(A_NANOSECOND);
            assertThat(freed.get()).isEqualTo(1);
            assertThat(producer.leasesExpired()).isEqualTo(1);
            assertThat(producer.blocksLeased()).isZero();
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{1, 2}, PROMPT, cCache, new int[]{3, 4}))
                    .hasMessageContaining("no leased KV for request r1 (expired or already released)");
            clock.advance(LEASE.multipliedBy(10));
            assertThat(freed.get()).isEqualTo(1);
            assertThat(producer.leasesExpired()).isEqualTo(1);
        }
    }

    @Test
    void releaseFreesExactlyOnceAndAbortFrees() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            KvTestSupport.fill(pCache, LAYERS, 1);
            AtomicInteger freed = new AtomicInteger(), aborted = new AtomicInteger();
            producer.lease("r1", new int[]{5, 0}, PROMPT, freed::incrementAndGet);
            producer.lease("r2", new int[]{3}, PROMPT, aborted::incrementAndGet);
            consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{5, 0}, PROMPT, cCache, new int[]{2, 7});
            assertThat(sameBlocks(pCache, new int[]{5, 0}, cCache, new int[]{2, 7}, LAYERS)).isTrue();
            assertThat(freed.get()).isEqualTo(1);
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", producer.port(), "prefill-1", "r1", new int[]{5, 0}, PROMPT, cCache, new int[]{2, 7}))
                    .hasMessageContaining("no leased KV for request r1 (expired or already released)");
            assertThat(producer.abort("r2")).isTrue();
            assertThat(aborted.get()).isEqualTo(1);
            assertThat(producer.abort("r2")).isFalse();
            clock.advance(LEASE.multipliedBy(10)); // past both leases: nothing is freed a second time
            assertThat(freed.get()).isEqualTo(1);
            assertThat(aborted.get()).isEqualTo(1);
            assertThat(producer.leasesExpired()).isZero();
            assertThat(producer.blocksLeased()).isZero();
        }
    }

    @Test
    void unknownRequestsAndBadBlockIdsAreRefusedAndFreeNothing() throws Exception {
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvProducer producer = producer("", pCache);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            KvTestSupport.fill(pCache, LAYERS, 2);
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", new int[]{1, 2}, PROMPT, freed::incrementAndGet);
            int port = producer.port();
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "nope", new int[]{1}, PROMPT, cCache, new int[]{1}))
                    .hasMessageContaining("no leased KV for request nope (expired or already released)");
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{1, 99}, PROMPT, cCache, new int[]{1, 2}))
                    .hasMessageContaining("block id 99 is out of range: the producer's cache has 8 blocks");
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{1, 3}, PROMPT, cCache, new int[]{1, 2}))
                    .hasMessageContaining("block list mismatch: request r1 leased blocks [1, 2], the pull names [1, 3]");
            // Out of order, repeated, short: each would decode from the wrong KV. 400: the request's fault.
            for (int[] wrong : new int[][]{{2, 1}, {1, 1}, {1}, {1, 2, 2}}) {
                assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", wrong, PROMPT, cCache, Arrays.copyOf(new int[]{3, 4, 5}, wrong.length)))
                        .isInstanceOfSatisfying(KvTransferException.class, e -> assertThat(e.status()).isEqualTo(400))
                        .hasMessageContaining("block list mismatch");
            }
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{1, 2}, PROMPT, cCache, new int[]{1, 8}))
                    .hasMessageContaining("local block id 8 is out of range: the cache has 8 blocks");
            assertThatThrownBy(() -> producer.lease("r9", new int[]{8}, PROMPT, () -> { }))
                    .hasMessageContaining("block id 8 is out of range: the cache has 8 blocks");
            assertThat(freed.get()).isZero();
            assertThat(producer.isLeased("r1")).isTrue();
            consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{1, 2}, PROMPT, cCache, new int[]{6, 4});
            assertThat(sameBlocks(pCache, new int[]{1, 2}, cCache, new int[]{6, 4}, LAYERS)).isTrue();
            assertThat(freed.get()).isEqualTo(1);
            assertThat(consumer.connectionsOpened()).as("refusals keep the connection usable").isEqualTo(1);
        }
    }

    /** A raw consumer: handshake, PULL, then read the BLOCKS frame; the payload is left in the socket. */
    private static KvChannel startPull(int port, KvPeerInfo consumer, String requestId, int[] blocks) throws Exception {
        SocketChannel sc = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        sc.socket().setReceiveBufferSize(64 << 10);
        KvChannel c = new KvChannel(sc, "producer", 5000);
        KvHandshake.asConsumer(c, consumer, "");
        c.authenticated();
        c.start();
        c.putString(requestId).putInts(blocks).putBytes(PromptHash.of(consumer.modelFingerprint(), PROMPT));
        c.send(KvChannel.PULL, "PULL");
        assertThat(c.read("BLOCKS", false).type()).isEqualTo(KvChannel.BLOCKS);
        ByteBuffer some = ByteBuffer.allocate(4096);
        c.readFully(new ByteBuffer[]{some}, 0, 1, "some payload");
        return c;
    }

    /** Reads and drops {@code n} payload bytes. */
    private static void skip(KvChannel c, long n) throws IOException {
        ByteBuffer sink = ByteBuffer.allocateDirect(1 << 20);
        while (n > 0) {
            sink.clear().limit((int) Math.min(sink.capacity(), n));
            c.readFully(new ByteBuffer[]{sink}, 0, 1, "payload");
            n -= sink.limit();
        }
    }

    @Test
    void aConsumerKilledMidTransferLeavesTheProducerFreeingWhenTheLeaseRunsOut() throws Exception {
        int[] blocks = new int[64]; // 16 MiB, far more than the socket buffers hold
        for (int i = 0; i < blocks.length; i++) blocks[i] = i;
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 64); KvProducer producer = producer("", pCache)) {
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", blocks, PROMPT, freed::incrementAndGet);
            KvChannel c = startPull(producer.port(), cInfo, "r1", blocks);
            c.close(); // the decode instance dies mid-payload
            until("the producer to see the transfer fail", () -> producer.transfersFailed() == 1);
            clock.advance(JUST_BEFORE);
            assertThat(freed.get()).as("not freed before the lease runs out: the consumer might reconnect").isZero();
            assertThat(producer.isLeased("r1")).isTrue();
            clock.advance(A_NANOSECOND);
            assertThat(freed.get()).isEqualTo(1);
            assertThat(producer.leasesExpired()).isEqualTo(1);
            assertThat(producer.blocksLeased()).isZero();
        }
    }

    @Test
    void aConsumerThatStopsReadingTimesOutTheSendAndTheLeaseStillExpires() throws Exception {
        int[] blocks = new int[64];
        for (int i = 0; i < blocks.length; i++) blocks[i] = i;
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 64); KvProducer producer = producer("\"read_timeout_ms\":300", pCache)) {
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", blocks, PROMPT, freed::incrementAndGet);
            try (KvChannel stalled = startPull(producer.port(), cInfo, "r1", blocks)) {
                // The lease clock stands still and the consumer stays connected: only the write timeout can end the send.
                until("the blocked write to give up", () -> producer.transfersFailed() == 1);
                assertThat(stalled.isOpen()).isTrue();
                assertThat(freed.get()).isZero();
                clock.advance(LEASE);
                assertThat(freed.get()).isEqualTo(1);
                assertThat(producer.leasesExpired()).isEqualTo(1);
            }
        }
    }

    @Test
    void anAbortDuringTheTransferFreesOnlyAfterTheLastByteWasSent() throws Exception {
        int[] blocks = new int[64];
        for (int i = 0; i < blocks.length; i++) blocks[i] = i;
        try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 64); KvProducer producer = producer("", pCache)) {
            AtomicInteger freed = new AtomicInteger();
            producer.lease("r1", blocks, PROMPT, freed::incrementAndGet);
            try (KvChannel c = startPull(producer.port(), cInfo, "r1", blocks)) {
                assertThat(producer.abort("r1")).isTrue();
                assertThat(freed.get()).as("blocks being sent are not freed by the abort").isZero();
                long total = 64L * LAYERS * pInfo.bytesPerBlockLayer();
                skip(c, total / 2 - 4096);
                // Half the payload (8 MiB) is still unread, more than the socket buffers hold: the producer is still sending.
                assertThat(freed.get()).as("blocks still being sent are not freed").isZero();
                skip(c, total / 2);
                KvChannel.Frame f = c.read("end", false);
                assertThat(f.type()).isEqualTo(KvChannel.ERROR);
                assertThat(f.string()).isEqualTo("request r1 was aborted on the producer during the transfer");
            }
            until("the blocks to be freed after the send", () -> freed.get() == 1);
            assertThat(producer.blocksLeased()).isZero();
        }
    }

    @Test
    void aProducerDyingMidTransferFailsThePullWithAClearError() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
             KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            Thread fake = Thread.ofVirtual().start(() -> {
                try (KvChannel c = new KvChannel(server.accept(), "consumer", 2000)) {
                    KvHandshake.asProducer(c, pInfo, "");
                    c.read("PULL", false);
                    c.start();
                    c.putString("r1").putInt(2).putInt(LAYERS).putInt((int) pInfo.bytesPerBlockLayer());
                    c.send(KvChannel.BLOCKS, "BLOCKS");
                    ByteBuffer half = ByteBuffer.allocateDirect((int) pInfo.bytesPerBlockLayer() * LAYERS);
                    c.writeFully(new ByteBuffer[]{half}, 0, 1, "half the payload");
                } catch (Exception ignored) {
                    // the test checks the consumer's side
                }
            });
            assertThatThrownBy(() -> consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{0, 1}, PROMPT, cCache, new int[]{2, 3}))
                    .isInstanceOf(KvTransferException.class)
                    .hasMessage("KV pull of request r1 from 127.0.0.1:" + port + " failed: producer 127.0.0.1:" + port
                            + " closed the connection while receiving the KV of request r1");
            fake.join();
            assertThat(consumer.pullsFailed()).isEqualTo(1);
            assertThat(consumer.connectionsOpened()).as("a fresh connection is not retried").isEqualTo(1);
        }
    }

    @Test
    void aRestartedProducerDoesNotLeaveAStaleConnection() throws Exception {
        for (boolean sameEngineId : new boolean[]{true, false}) {
            try (PagedKvCache pCache = KvTestSupport.cache(pInfo, 8); PagedKvCache cCache = KvTestSupport.cache(cInfo, 8);
                 KvConsumer consumer = new KvConsumer(config("kv_consumer", ""), cInfo)) {
                KvTestSupport.fill(pCache, LAYERS, 3);
                KvProducer first = KvProducer.start(config("kv_producer", ""), pInfo, pCache);
                int port = first.port();
                first.lease("r1", new int[]{1}, PROMPT, () -> { });
                consumer.pull("127.0.0.1", port, "prefill-1", "r1", new int[]{1}, PROMPT, cCache, new int[]{0});
                first.close();

                KvPeerInfo restarted = sameEngineId ? info("prefill-1", BLOCK, LAYERS, ENTRY) : info("prefill-2", BLOCK, LAYERS, ENTRY);
                try (KvProducer second = KvProducer.start(config("kv_producer", "").withPort(port), restarted, pCache)) {
                    AtomicInteger freed = new AtomicInteger();
                    second.lease("r2", new int[]{4, 5}, PROMPT, freed::incrementAndGet);
                    consumer.pull("127.0.0.1", port, restarted.engineId(), "r2", new int[]{4, 5}, PROMPT, cCache, new int[]{6, 7});
                    assertThat(sameBlocks(pCache, new int[]{4, 5}, cCache, new int[]{6, 7}, LAYERS)).isTrue();
                    assertThat(freed.get()).isEqualTo(1);
                    assertThat(consumer.connectionsOpened()).as("same engine id: %s", sameEngineId).isEqualTo(2);
                    assertThat(consumer.pullsFailed()).isZero();
                }
            }
        }
    }
}
