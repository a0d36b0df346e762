package dev.pdserve.engine;

import dev.pdserve.model.KvCache;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * The paged KV pool: per layer one off-heap fp32 array of {@code numBlocks * blockSize *
 * entryFloats} values, so one block of one layer is contiguous (what the KV transfer sends).
 */
public final class PagedKvCache implements KvCache, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PagedKvCache.class.getName());

    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] layers;
    private final int blockSize;
    private final int numBlocks;
    private final int entryFloats;

    public PagedKvCache(int numLayers, int numBlocks, int blockSize, int entryFloats) {
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.entryFloats = entryFloats;
        this.layers = new MemorySegment[numLayers];
        long bytes = (long) numBlocks * blockSize * entryFloats * Float.BYTES;
        for (int l = 0; l < numLayers; l++) layers[l] = allocate(bytes);
    }

    /**
     * Large pools are mapped anonymous memory: the kernel hands out zeroed pages on first touch,
     * so a pool sized from free RAM costs only what requests actually fill (Arena.allocate would
     * zero, and so commit, all of it at start).
     */
    private MemorySegment allocate(long bytes) {
        if (MMAP != null && bytes >= (1L << 20)) {
            try {
                MemorySegment addr = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, 3 /* PROT_READ|WRITE */,
                        0x02 | 0x20 | 0x4000 /* MAP_PRIVATE|ANONYMOUS|NORESERVE */, -1, 0L);
                if (addr.address() != -1L) {
                    return addr.reinterpret(bytes, arena, seg -> unmap(seg, bytes));
                }
                LOG.warning("mmap of " + bytes + " bytes failed; allocating the KV pool on the Java side");
            } catch (Throwable t) {
                LOG.warning("mmap unavailable (" + t + "); allocating the KV pool on the Java side");
            }
        }
        return arena.allocate(bytes, 64);
    }

    private static void unmap(MemorySegment seg, long bytes) {
        try {
            int rc = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(seg.address()), bytes);
            if (rc != 0) LOG.warning("munmap of the KV pool failed: " + rc);
        } catch (Throwable t) {
            LOG.warning("munmap of the KV pool failed: " + t);
        }
    }

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;

    static {
        MethodHandle mmap = null, munmap = null;
        if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            } catch (RuntimeException e) {
                mmap = null;
                munmap = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
    }

    /** Bytes one block takes over all layers. */
    public static long blockBytes(int numLayers, int blockSize, int entryFloats) {
        return (long) numLayers * blockSize * entryFloats * Float.BYTES;
    }

    /**
     * How many blocks the pool gets: {@code kvCacheBytes} when set, else {@code
     * gpuMemoryUtilization} of the RAM the kernel says is available now (the weights are mapped
     * already), as vLLM sizes its pool from what is left after loading the model.
     */
    public static int numBlocksFor(EngineConfig config, int numLayers, int entryFloats) {
        long perBlock = blockBytes(numLayers, config.blockSize(), entryFloats);
        long budget = config.kvCacheBytes();
        if (budget <= 0) budget = (long) (config.gpuMemoryUtilization() * memAvailableBytes());
        long n = budget / perBlock;
        if (n < 1) {
            throw new EngineException(500, null, "KV cache of " + budget + " bytes holds no block of " + perBlock
                    + " bytes; raise --kv-cache-bytes or --gpu-memory-utilization");
        }
        return (int) Math.min(n, Integer.MAX_VALUE / ((long) config.blockSize() * entryFloats));
    }

    /** MemAvailable of /proc/meminfo: the RAM that can be had now without swapping. */
    public static long memAvailableBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            LOG.warning("cannot read /proc/meminfo (" + e.getMessage() + "); using the JVM's free heap estimate");
        }
        return Runtime.getRuntime().maxMemory() - Runtime.getRuntime().totalMemory() + Runtime.getRuntime().freeMemory();
    }

    @Override public int blockSize() { return blockSize; }

    @Override public int numBlocks() { return numBlocks; }

    @Override public int entryFloats() { return entryFloats; }

    @Override public MemorySegment layer(int layer) { return layers[layer]; }

    /** One block of one layer: {@code blockSize * entryFloats} floats. */
    public MemorySegment block(int layer, int block) {
        long bytes = (long) blockSize * entryFloats * Float.BYTES;
        return layers[layer].asSlice(block * bytes, bytes);
    }

    @Override
    public void close() { arena.close(); }
}
