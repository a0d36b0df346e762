package dev.pdserve.kv;

import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.model.KvCache;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/** Shared pieces of the KV transfer tests: configs, synthetic caches, a byte-counting TCP relay. */
final class KvTestSupport {
    private KvTestSupport() {}

    /** The prompt the tests' leases hold and their pulls name (a lease is bound to its prompt's tokens). */
    static final int[] PROMPT = {101, 7, 42};

    static KvTransferConfig config(String role, String extra) {
        return KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0,"
                + "\"kv_connector_extra_config\":{" + extra + "}}");
    }

    static KvPeerInfo info(String engineId, int blockSize, int layers, int entryFloats) {
        return new KvPeerInfo(KvPeerInfo.PROTOCOL_VERSION, engineId, UUID.randomUUID().toString(), "sha256:synthetic",
                blockSize, "test-layout", KvPeerInfo.nativeF32(), layers, entryFloats);
    }

    /** Fills every float of every block with a value that encodes (layer, block, index). */
    static void fill(KvCache cache, int layers, int seed) {
        for (int l = 0; l < layers; l++) {
            MemorySegment s = cache.layer(l);
            long n = s.byteSize() / 4;
            for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, seed * 1e6f + l * 1e5f + i);
        }
    }

    static long blockBytes(KvCache c) { return 4L * c.blockSize() * c.entryFloats(); }

    static MemorySegment block(KvCache c, int layer, int block) {
        return c.layer(layer).asSlice(block * blockBytes(c), blockBytes(c));
    }

    /** True when the consumer's blocks hold exactly the producer's, in order. */
    static boolean sameBlocks(KvCache p, int[] pIds, KvCache c, int[] cIds, int layers) {
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < pIds.length; i++) {
                if (block(p, l, pIds[i]).mismatch(block(c, l, cIds[i])) != -1) return false;
            }
        }
        return true;
    }

    static PagedKvCache cache(KvPeerInfo info, int blocks) {
        return new PagedKvCache(info.numLayers(), blocks, info.blockSize(), info.entryFloats());
    }

    /** A loopback TCP relay that counts every byte in both directions: the bytes on the wire, measured outside pdserve. */
    static final class CountingRelay implements AutoCloseable {
        final ServerSocket server;
        final AtomicLong bytes = new AtomicLong();
        /** The first MiB that crossed, both directions interleaved: to check what never travels (the cluster token). */
        private final java.io.ByteArrayOutputStream seen = new java.io.ByteArrayOutputStream();

        CountingRelay(int targetPort) throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket in = server.accept();
                        Socket out = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                        Thread.ofVirtual().start(() -> pump(in, out));
                        Thread.ofVirtual().start(() -> pump(out, in));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() { return server.getLocalPort(); }

        byte[] seen() {
            synchronized (seen) {
                return seen.toByteArray();
            }
        }

        private void pump(Socket from, Socket to) {
            byte[] buf = new byte[1 << 16];
            try (InputStream is = from.getInputStream(); OutputStream os = to.getOutputStream()) {
                int n;
                while ((n = is.read(buf)) > 0) {
                    bytes.addAndGet(n); // before forwarding, so a reply seen by the client is already counted
                    synchronized (seen) {
                        if (seen.size() < (1 << 20)) seen.write(buf, 0, n);
                    }
                    os.write(buf, 0, n);
                }
            } catch (IOException ignored) {
                // one side closed
            } finally {
                try { from.close(); to.close(); } catch (IOException ignored) { }
            }
        }

        @Override
        public void close() throws IOException { server.close(); }
    }
}
