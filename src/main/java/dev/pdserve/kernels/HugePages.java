package dev.pdserve.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Off-heap memory for weights, backed by 2 MiB pages where Linux allows it. Decode streams every
 * weight once per token; with 4 KiB pages that is a TLB walk every 4 KiB, and repacked weights read
 * at batch 1 ran up to 1.5x slower than the same bytes in the page cache of the mapped checkpoint.
 * An arena zeroes what it allocates, so the pages are already there as 4 KiB pages when we could
 * advise them; instead the region is 2 MiB-aligned and, once written, collapsed into huge pages with
 * {@code MADV_COLLAPSE} (Linux 6.1+, whatever the transparent-huge-page mode short of "never").
 * Elsewhere, or if the call fails, the memory stays ordinary and is only slower.
 */
public final class HugePages {
    private static final long HUGE = 2L << 20;
    private static final int MADV_COLLAPSE = 25;
    private static final int EAGAIN = 11;
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle MADVISE = lookup();

    private HugePages() {}

    private static MethodHandle lookup() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) return null;
        try {
            Linker linker = Linker.nativeLinker();
            return linker.downcallHandle(linker.defaultLookup().find("madvise").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT),
                    Linker.Option.captureCallState("errno"));
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** {@code bytes} of zeroed memory from {@code arena}, 2 MiB-aligned and padded to whole huge pages when that large. */
    public static MemorySegment allocate(Arena arena, long bytes) {
        if (bytes < HUGE || MADVISE == null) return arena.allocate(bytes, 64);
        return arena.allocate((bytes + HUGE - 1) / HUGE * HUGE, HUGE).asSlice(0, bytes);
    }

    /**
     * Asks the kernel to back a segment from {@link #allocate}, now written, with huge pages.
     * Returns 0 when it did, else the errno of the refusal (-1 where there is nothing to ask);
     * callers may ignore it: ordinary pages work too, only slower. EAGAIN (a page briefly locked
     * elsewhere) is asked again a few times, as the man page suggests.
     */
    public static int collapse(MemorySegment written) {
        if (written.byteSize() < HUGE || MADVISE == null || written.address() % HUGE != 0) return -1;
        MemorySegment whole = MemorySegment.ofAddress(written.address()).reinterpret((written.byteSize() + HUGE - 1) / HUGE * HUGE);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment state = scratch.allocate(CALL_STATE);
            int errno = EAGAIN;
            for (int attempt = 0; attempt < 3 && errno == EAGAIN; attempt++) {
                int rc = (int) MADVISE.invokeExact(state, whole, whole.byteSize(), MADV_COLLAPSE);
                errno = rc == 0 ? 0 : (int) ERRNO.get(state, 0L);
            }
            return errno;
        } catch (Throwable e) {
            return -1;
        }
    }
}
