package dev.pdserve.kernels;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class HugePagesTest {
    @Test
    void largeSegmentsAreAlignedZeroedAndKeepTheirContentThroughTheCollapse() throws Exception {
        // Not a whole number of huge pages, and above glibc's largest mmap threshold (32 MiB), so the
        // arena's malloc maps fresh pages: a smaller block can come from heap memory that an earlier
        // collapse already made huge, and then fewer pages change (24576 < 26624 once).
        long bytes = (40L << 20) + 12345;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = HugePages.allocate(arena, bytes);
            assertThat(s.byteSize()).isEqualTo(bytes);
            assertThat(s.address() % (2L << 20)).isZero();
            assertThat(s.get(ValueLayout.JAVA_LONG, 0)).isZero();
            assertThat(s.get(ValueLayout.JAVA_BYTE, bytes - 1)).isZero();
            for (long i = 0; i < bytes; i += 4096) s.set(ValueLayout.JAVA_BYTE, i, (byte) (i >>> 12));
            long padded = (bytes + (2L << 20) - 1) / (2L << 20) * (2L << 20);
            long hugeBefore = anonHugeKb(s.address(), padded);
            int errno = HugePages.collapse(s);
            for (long i = 0; i < bytes; i += 4096) assertThat(s.get(ValueLayout.JAVA_BYTE, i)).isEqualTo((byte) (i >>> 12));
            // Where the kernel offers transparent huge pages the region is now backed by them; the call
            // is advice, so elsewhere (or with THP "never") nothing changes and nothing breaks. Counted
            // in the mappings that hold this region only: the process-wide count moves with whatever
            // else the JVM maps and frees meanwhile (the cause of an earlier flake, 20480 < 24576).
            String mode = Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"))
                    ? Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled")) : "[never]";
            if (!mode.contains("[never]") && hugeBefore >= 0 && kernelHasCollapse()) {
                assertThat(errno).as("madvise(MADV_COLLAPSE) errno").isZero();
                assertThat(anonHugeKb(s.address(), padded)).isGreaterThanOrEqualTo(hugeBefore + padded / 1024);
            }
        }
    }

    @Test
    void smallSegmentsAreOrdinary() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = HugePages.allocate(arena, 1000);
            assertThat(s.byteSize()).isEqualTo(1000);
            HugePages.collapse(s); // below one huge page: nothing to do
            assertThat(s.get(ValueLayout.JAVA_INT, 996)).isZero();
        }
    }

    /** MADV_COLLAPSE arrived in Linux 6.1. */
    private static boolean kernelHasCollapse() {
        String[] v = System.getProperty("os.version", "0.0").split("[.-]");
        int major = Integer.parseInt(v[0]), minor = v.length > 1 ? Integer.parseInt(v[1].replaceAll("[^0-9].*", "")) : 0;
        return major > 6 || (major == 6 && minor >= 1);
    }

    /** AnonHugePages of the mappings in /proc/self/smaps that overlap [address, address + length), or -1. */
    private static long anonHugeKb(long address, long length) throws Exception {
        Path smaps = Path.of("/proc/self/smaps");
        if (!Files.exists(smaps)) return -1;
        long kb = 0;
        boolean inside = false;
        for (String line : Files.readAllLines(smaps)) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = start < address + length && address < end;
            } else if (inside && line.startsWith("AnonHugePages:")) {
                kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kb;
    }
}
