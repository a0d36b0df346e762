package dev.pdserve.cli;

/**
 * How big the KV pool of {@code pdserve serve} is, as vLLM's CPU backend sizes it: a fixed size,
 * never a share of free RAM (three instances on one host taking 90% each would reserve 270%).
 * {@code --kv-cache-memory} (or vLLM's {@code --kv-cache-memory-bytes}) wins, then
 * {@code VLLM_CPU_KVCACHE_SPACE} in GiB, then vLLM's default of 4 GiB. A pool larger than the RAM
 * free after loading the model is refused: it would be killed under load.
 */
final class KvPoolSize {
    static final long GIB = 1L << 30;
    /** vLLM's CPU backend default when VLLM_CPU_KVCACHE_SPACE is not set (or 0). */
    static final long DEFAULT_BYTES = 4 * GIB;

    /** The size and the sentence saying where it comes from, for the log. */
    record Choice(long bytes, String source) {}

    private KvPoolSize() {}

    /** {@code flagBytes} null when no flag was given; {@code envGib} is VLLM_CPU_KVCACHE_SPACE or null. */
    static Choice choose(Long flagBytes, String flagName, String envGib) {
        if (flagBytes != null) {
            if (flagBytes < 1) throw new IllegalArgumentException(flagName + " must be at least 1 byte, got " + flagBytes);
            return new Choice(flagBytes, flagName);
        }
        if (envGib != null && !envGib.isBlank()) {
            long gib;
            try {
                gib = Long.parseLong(envGib.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("VLLM_CPU_KVCACHE_SPACE must be a whole number of GiB, got '" + envGib + "'");
            }
            if (gib < 0 || gib > Long.MAX_VALUE / GIB) throw new IllegalArgumentException("VLLM_CPU_KVCACHE_SPACE must be a whole number of GiB >= 0, got " + gib);
            if (gib > 0) return new Choice(gib * GIB, "VLLM_CPU_KVCACHE_SPACE=" + gib);
        }
        return new Choice(DEFAULT_BYTES, "vLLM's CPU default; set VLLM_CPU_KVCACHE_SPACE=GiB or --kv-cache-memory to change it");
    }

    /** Throws when the pool does not fit in {@code freeBytes}, the RAM available now. */
    static void checkFits(Choice c, long freeBytes) {
        if (c.bytes() > freeBytes) {
            throw new IllegalArgumentException("the KV cache of " + gib(c.bytes()) + " (" + c.source() + ") is larger than the free RAM, "
                    + gib(freeBytes) + " after loading the model; give a smaller --kv-cache-memory or VLLM_CPU_KVCACHE_SPACE");
        }
    }

    static String gib(long bytes) {
        if (bytes < GIB) return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
        return String.format(java.util.Locale.ROOT, "%.2f GiB", bytes / (double) GIB);
    }
}
