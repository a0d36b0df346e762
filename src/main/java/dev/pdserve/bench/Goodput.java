package dev.pdserve.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Service level objectives for goodput (DistServe), vLLM's {@code --goodput ttft:MS tpot:MS e2el:MS}: a
 * successful request is "good" when each named metric is at or below its limit. A request with a single
 * output token has TPOT 0 for this purpose, as in vLLM.
 */
public record Goodput(Map<String, Double> slosMs) {
    private static final List<String> NAMES = List.of("ttft", "tpot", "e2el");

    public Goodput {
        slosMs = Map.copyOf(slosMs);
    }

    public static Goodput none() {
        return new Goodput(Map.of());
    }

    public boolean enabled() {
        return !slosMs.isEmpty();
    }

    public static Goodput parse(List<String> pairs) {
        Map<String, Double> slos = new LinkedHashMap<>();
        if (pairs == null) return new Goodput(slos);
        for (String pair : pairs) {
            String[] kv = pair.split(":");
            double value;
            try {
                if (kv.length != 2) throw new NumberFormatException();
                value = Double.parseDouble(kv[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid --goodput '" + pair
                        + "': use KEY:VALUE pairs, KEY one of ttft, tpot, e2el and VALUE in milliseconds");
            }
            if (!NAMES.contains(kv[0])) {
                throw new IllegalArgumentException("invalid --goodput metric '" + kv[0] + "': use one of " + NAMES);
            }
            if (value < 0) throw new IllegalArgumentException("invalid --goodput value for " + kv[0] + ": must be >= 0 ms");
            slos.put(kv[0], value);
        }
        return new Goodput(slos);
    }

    /** Whether a successful request with these latencies (seconds) meets every objective. */
    public boolean isGood(double ttft, double tpot, double e2el) {
        return meets("ttft", ttft) && meets("tpot", tpot) && meets("e2el", e2el);
    }

    private boolean meets(String name, double seconds) {
        Double limitMs = slosMs.get(name);
        return limitMs == null || seconds <= limitMs / 1000.0;
    }
}
