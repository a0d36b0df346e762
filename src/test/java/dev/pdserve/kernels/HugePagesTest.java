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
        long bytes = (8L << 20) + 12345; // not a whole number of huge pages
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = HugePages.allocate(arena, bytes);
            assertThat(s.byteSize()).isEqualTo(bytes);
            assertThat(s.address() % (2L << 20)).isZero();
            assertThat(s.get(ValueLayout.JAVA_LONG, 0)).isZero();
            assertThat(s.get(ValueLayout.JAVA_BYTE, bytes - 1)).isZero();
            for (long i = 0; i < bytes; i += 4096) s.set(ValueLayout.JAVA_BYTE, i, (byte) (i >>> 12));
            long hugeBefore = anonHugeKb();
            HugePages.collapse(s);
            for (long i = 0; i < bytes; i += 4096) assertThat(s.get(ValueLayout.JAVA_BYTE, i)).isEqualTo((byte) (i >>> 12));
            // Where the kernel offers transparent huge pages the process now holds more of them;
            // the call is advice, so elsewhere (or with THP "never") nothing changes and nothing breaks.
            String mode = Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"))
                    ? Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled")) : "[never]";
            if (!mode.contains("[never]") && hugeBefore >= 0 && kernelHasCollapse()) assertThat(anonHugeKb()).isGreaterThanOrEqualTo(hugeBefore + 4096);
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

    private static long anonHugeKb() throws Exception {
        Path rollup = Path.of("/proc/self/smaps_rollup");
        if (!Files.exists(rollup)) return -1;
        for (String line : Files.readAllLines(rollup)) {
            if (line.startsWith("AnonHugePages:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return -1;
    }
}
