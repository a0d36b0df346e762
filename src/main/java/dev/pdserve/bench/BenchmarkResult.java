package dev.pdserve.bench;

import java.time.LocalDateTime;
import java.util.List;

/** One finished run: its setup, every request's output (failures included) and the derived metrics. */
public record BenchmarkResult(BenchmarkConfig config, String modelId, LocalDateTime date, int numPrompts,
                              double durationS, List<RequestResult> outputs, BenchmarkMetrics metrics) {
    public BenchmarkResult {
        outputs = List.copyOf(outputs);
    }

    public String label() {
        return config.label();
    }
}
