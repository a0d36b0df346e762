package dev.pdserve.jmh;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * JMH twin of {@link BandwidthProbe}: one Vector API pass over an off-heap array per call, so
 * GB/s = sizeMib * 1.048576 / 1000 / (ms per op). Run with {@code -t 1} and {@code -t 2}
 * (each thread reads its own array):
 * <pre>java --add-modules jdk.incubator.vector -cp ... org.openjdk.jmh.Main MemoryBandwidth -t 2</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
public class MemoryBandwidthBenchmark {
    @Param("512")
    public int sizeMib;

    private Arena arena;
    private MemorySegment data;

    @Setup(Level.Trial)
    public void allocate() {
        arena = Arena.ofShared();
        data = arena.allocate((long) sizeMib << 20, 4096);
        for (long off = 0; off < data.byteSize(); off += 4) data.set(ValueLayout.JAVA_FLOAT_UNALIGNED, off, 1f);
    }

    @TearDown(Level.Trial)
    public void free() { arena.close(); }

    @Benchmark
    public float readAll() {
        return BandwidthProbe.sum(data, 0, data.byteSize());
    }
}
