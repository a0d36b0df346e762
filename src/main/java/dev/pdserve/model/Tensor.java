package dev.pdserve.model;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/** One tensor of a checkpoint: its bytes stay in the memory-mapped file. */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data, Path file) {
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Throws a {@link ModelLoadException} naming the tensor and file unless the shape is {@code expected}. */
    public Tensor expectShape(long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new ModelLoadException("tensor '" + name + "' in " + file + " has shape " + Arrays.toString(shape)
                    + " but config.json implies " + Arrays.toString(expected));
        }
        return this;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
