package dev.pdserve.model;

/** Tensor element types of the safetensors format that pdserve reads. */
public enum DType {
    BF16(2), F16(2), F32(4), I8(1), F8_E4M3(1), I32(4), I64(8);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    static DType parse(String name) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        return null;
    }
}
