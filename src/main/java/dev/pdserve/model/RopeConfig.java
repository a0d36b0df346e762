package dev.pdserve.model;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Rotary position embedding settings, read from {@code rope_parameters} (newer transformers) or
 * {@code rope_scaling} + {@code rope_theta} (published checkpoints). Computes the inverse
 * frequencies and the cos/sin scale the way transformers' rope initialisers do.
 */
public record RopeConfig(String type, double theta, double factor, double originalMaxPositions,
                         double betaFast, double betaSlow, double mscale, double mscaleAllDim,
                         double lowFreqFactor, double highFreqFactor, Double attentionFactor, boolean truncate) {

    public static RopeConfig parse(JsonNode c, String source) {
        JsonNode p = c.path("rope_parameters");
        if (!p.isObject()) p = c.path("rope_scaling");
        double theta = p.path("rope_theta").asDouble(c.path("rope_theta").asDouble(10000.0));
        String type = p.isObject() ? p.path("rope_type").asText(p.path("type").asText("default")) : "default";
        if (type.equals("default") || !p.isObject()) {
            return new RopeConfig("default", theta, 1, 0, 32, 1, 0, 0, 1, 4, null, true);
        }
        if (!type.equals("yarn") && !type.equals("llama3") && !type.equals("linear")) {
            throw new ModelLoadException(source + ": rope type '" + type + "' is not supported (default, linear, yarn, llama3)");
        }
        double maxPos = c.path("max_position_embeddings").asDouble(2048);
        return new RopeConfig(type, theta, p.path("factor").asDouble(1.0),
                p.path("original_max_position_embeddings").asDouble(maxPos),
                p.path("beta_fast").asDouble(32), p.path("beta_slow").asDouble(1),
                p.path("mscale").asDouble(0), p.path("mscale_all_dim").asDouble(0),
                p.path("low_freq_factor").asDouble(1), p.path("high_freq_factor").asDouble(4),
                p.hasNonNull("attention_factor") ? p.get("attention_factor").asDouble() : null,
                p.path("truncate").asBoolean(true));
    }

    /** Inverse frequencies for a rotary dimension {@code dim} (dim/2 values). */
    public double[] inverseFrequencies(int dim) {
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        switch (type) {
            case "linear" -> { for (int i = 0; i < inv.length; i++) inv[i] /= factor; }
            case "yarn" -> yarn(inv, dim);
            case "llama3" -> llama3(inv);
            default -> { }
        }
        return inv;
    }

    /** Scale applied to cos and sin (YaRN's attention factor; 1 otherwise). */
    public double cosSinScale() {
        if (!type.equals("yarn")) return 1.0;
        if (attentionFactor != null) return attentionFactor;
        if (mscale != 0 && mscaleAllDim != 0) return yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
        return yarnMscale(factor, 1);
    }

    public static double yarnMscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    private void yarn(double[] inv, int dim) {
        double low = correctionDim(betaFast, dim), high = correctionDim(betaSlow, dim);
        if (truncate) { low = Math.floor(low); high = Math.ceil(high); }
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) high += 0.001;
        for (int i = 0; i < inv.length; i++) {
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double extrapolation = 1 - ramp;
            inv[i] = (inv[i] / factor) * (1 - extrapolation) + inv[i] * extrapolation;
        }
    }

    private double correctionDim(double rotations, int dim) {
        return dim * Math.log(originalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
    }

    private void llama3(double[] inv) {
        double lowWavelen = originalMaxPositions / lowFreqFactor, highWavelen = originalMaxPositions / highFreqFactor;
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen < highWavelen) continue;
            if (wavelen > lowWavelen) { inv[i] /= factor; continue; }
            double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
        }
    }
}
