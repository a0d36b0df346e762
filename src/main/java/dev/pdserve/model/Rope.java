package dev.pdserve.model;

/**
 * Precomputed rotary tables, cos and sin per position and frequency, already multiplied by the
 * rope's attention scale (YaRN). Grown on demand for positions past the table.
 * Two pairings exist: Llama rotates (x[i], x[i + d/2]); DeepSeek with {@code rope_interleave}
 * rotates (x[2i], x[2i+1]), which is what transformers' de-interleave-then-rotate-half amounts to.
 */
public final class Rope {
    private final double[] invFreq;
    private final double scale;
    private final boolean interleaved;
    private final int half;
    private volatile float[] cos = new float[0];
    private volatile float[] sin = new float[0];

    public Rope(RopeConfig config, int dim, boolean interleaved, int initialPositions) {
        this.invFreq = config.inverseFrequencies(dim);
        this.scale = config.cosSinScale();
        this.interleaved = interleaved;
        this.half = dim / 2;
        ensure(initialPositions);
    }

    private synchronized void ensure(int positions) {
        if (cos.length >= positions * half) return;
        int n = Math.max(positions, 2 * cos.length / Math.max(1, half));
        float[] c = new float[n * half], s = new float[n * half];
        for (int p = 0; p < n; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                c[p * half + i] = (float) (Math.cos(angle) * scale);
                s[p * half + i] = (float) (Math.sin(angle) * scale);
            }
        }
        sin = s;
        cos = c;
    }

    /** Rotates {@code x[off .. off + 2*half)} in place for position {@code pos}. */
    public void apply(float[] x, int off, int pos) {
        if ((pos + 1) * half > cos.length) ensure(pos + 1);
        float[] c = cos, s = sin;
        int base = pos * half;
        if (interleaved) {
            for (int i = 0; i < half; i++) {
                float a = x[off + 2 * i], b = x[off + 2 * i + 1];
                x[off + 2 * i] = a * c[base + i] - b * s[base + i];
                x[off + 2 * i + 1] = b * c[base + i] + a * s[base + i];
            }
        } else {
            for (int i = 0; i < half; i++) {
                float a = x[off + i], b = x[off + half + i];
                x[off + i] = a * c[base + i] - b * s[base + i];
                x[off + half + i] = b * c[base + i] + a * s[base + i];
            }
        }
    }
}
