package dev.pdserve.jmh;

import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.kv.KvConsumer;
import dev.pdserve.kv.KvPeerInfo;
import dev.pdserve.kv.KvProducer;
import dev.pdserve.kv.KvTransferConfig;
import dev.pdserve.kv.KvTransferResult;
import dev.pdserve.model.KvCache;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

/**
 * KV pull throughput over loopback against plain loopback TCP measured in the same run (not a
 * test: run it by hand, see docs/kv-protocol.md). Blocks are shaped like DeepSeek-V3's MLA cache
 * (576 floats per token-layer, 16 tokens per block) and scattered, as a real block table is.
 * Args: [MiB, default 256] [rounds, default 3].
 */
public final class KvTransferBench {
    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 256;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int layers = 8, entry = 576, blockSize = 16;
        KvPeerInfo pInfo = info("bench-p", blockSize, layers, entry);
        KvPeerInfo cInfo = info("bench-c", blockSize, layers, entry);
        long perBlock = pInfo.bytesPerBlockLayer() * layers;
        int blocks = (int) ((mib << 20) / perBlock);
        long payload = blocks * perBlock;
        int[] pIds = shuffled(blocks, 1), cIds = shuffled(blocks, 2);

        double bestKv = 0, bestTcp = 0, bestHot = 0;
        List<Double> ratios = new ArrayList<>();
        try (PagedKvCache p = cache(pInfo, blocks); PagedKvCache c = cache(cInfo, blocks);
             KvProducer producer = KvProducer.start(config("kv_producer"), pInfo, p);
             KvConsumer consumer = new KvConsumer(config("kv_consumer"), cInfo)) {
            fill(p, layers);
            // Alternate the two measurements, so both see the same background load on a shared machine.
            for (int r = 0; r <= rounds; r++) { // round 0 warms up
                producer.lease("bench-" + r, pIds, () -> { });
                long t0 = System.nanoTime();
                KvTransferResult res = consumer.pull("127.0.0.1", producer.port(), "bench-p", "bench-" + r, pIds, c, cIds);
                double whole = res.payloadBytes() / ((System.nanoTime() - t0) / 1e9); // with the RELEASE round trip
                double kv = res.payloadBytes() / res.seconds();                       // PULL to DONE
                double tcp = plainTcp(payload, payload);   // memory to memory: the bytes the pull moves
                double hot = plainTcp(payload, 4 << 20);   // one 4 MiB buffer each side, resident in L3
                if (r == 0) continue;
                bestKv = Math.max(bestKv, kv);
                bestTcp = Math.max(bestTcp, tcp);
                bestHot = Math.max(bestHot, hot);
                ratios.add(kv / tcp);
                System.out.printf("round %d: kv pull %d blocks (%.1f MiB) %.0f MiB/s (%.0f MiB/s with RELEASE), plain TCP %.0f MiB/s"
                                + " (%.0f MiB/s from a cache-resident buffer), ratio %.0f%%%n",
                        r, blocks, payload / 1048576.0, kv / 1048576, whole / 1048576, tcp / 1048576, hot / 1048576, 100 * kv / tcp);
            }
            if (!sameBlocks(p, pIds, c, cIds, layers)) throw new AssertionError("blocks differ after the transfer");
        }
        Collections.sort(ratios);
        System.out.printf("best: kv %.0f MiB/s, plain TCP %.0f MiB/s, ratio %.0f%%; median of per-round ratios %.0f%%;"
                        + " plain TCP from a cache-resident buffer %.0f MiB/s (kv is %.0f%% of it)%n",
                bestKv / 1048576, bestTcp / 1048576, 100 * bestKv / bestTcp, 100 * ratios.get(ratios.size() / 2),
                bestHot / 1048576, 100 * bestKv / bestHot);
    }

    private static KvTransferConfig config(String role) {
        return KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0,"
                + "\"kv_connector_extra_config\":{\"cluster_token\":\"t\"}}");
    }

    private static KvPeerInfo info(String engineId, int blockSize, int layers, int entryFloats) {
        return new KvPeerInfo(KvPeerInfo.PROTOCOL_VERSION, engineId, UUID.randomUUID().toString(), "sha256:synthetic",
                blockSize, "bench-layout", KvPeerInfo.nativeF32(), layers, entryFloats);
    }

    private static PagedKvCache cache(KvPeerInfo info, int blocks) {
        return new PagedKvCache(info.numLayers(), blocks, info.blockSize(), info.entryFloats());
    }

    /** Every float of every block gets a value that encodes (layer, index), so a misplaced block shows. */
    private static void fill(KvCache cache, int layers) {
        for (int l = 0; l < layers; l++) {
            MemorySegment s = cache.layer(l);
            for (long i = 0, n = s.byteSize() / 4; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, l * 1e5f + i);
        }
    }

    private static boolean sameBlocks(KvCache p, int[] pIds, KvCache c, int[] cIds, int layers) {
        long bytes = 4L * p.blockSize() * p.entryFloats();
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < pIds.length; i++) {
                if (p.layer(l).asSlice(pIds[i] * bytes, bytes).mismatch(c.layer(l).asSlice(cIds[i] * bytes, bytes)) != -1) return false;
            }
        }
        return true;
    }

    /**
     * One socket writing {@code bytes} from a direct buffer, another reading them into one. With
     * {@code bufferBytes == bytes} both sides touch as much distinct memory as the pull does (its
     * fair baseline); with a small buffer the data stays in cache: loopback's ceiling.
     */
    static double plainTcp(long bytes, long bufferBytes) throws Exception {
        int size = (int) Math.min(bufferBytes, Integer.MAX_VALUE - 8);
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            Thread reader = Thread.ofPlatform().start(() -> {
                try (SocketChannel in = server.accept()) {
                    ByteBuffer b = ByteBuffer.allocateDirect(size);
                    long left = bytes;
                    while (left > 0) {
                        if (!b.hasRemaining()) b.clear();
                        if (b.remaining() > left) b.limit(b.position() + (int) left);
                        int n = in.read(b);
                        if (n < 0) break;
                        left -= n;
                    }
                    in.write(ByteBuffer.wrap(new byte[1]));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            try (SocketChannel out = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                ByteBuffer b = ByteBuffer.allocateDirect(size);
                long t0 = System.nanoTime();
                long left = bytes;
                while (left > 0) {
                    if (!b.hasRemaining()) b.clear();
                    if (b.remaining() > left) b.limit(b.position() + (int) left);
                    left -= out.write(b);
                }
                out.read(ByteBuffer.allocate(1)); // the reader got everything
                double s = (System.nanoTime() - t0) / 1e9;
                reader.join();
                return bytes / s;
            }
        }
    }

    private static int[] shuffled(int n, long seed) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(i);
        Collections.shuffle(ids, new java.util.Random(seed));
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
