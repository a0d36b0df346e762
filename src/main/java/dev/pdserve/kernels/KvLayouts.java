package dev.pdserve.kernels;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Value layouts shared by the kernels and the KV cache: little-endian, unaligned-safe. */
public final class KvLayouts {
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private KvLayouts() {}
}
