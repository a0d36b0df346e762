package dev.pdserve.launch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** `pdserve bench compare` for real, on a workload small enough for CI: both sides run, one table, one plot. */
class CompareEndToEndTest {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed test keeps its processes' logs
    Path dir;

    @Test
    @Timeout(value = 360, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void colocatedAndDisaggregatedSideBySide() throws Exception {
        boolean twoCores = Runtime.getRuntime().availableProcessors() >= 2;
        CliCapture run = CliCapture.run("bench", "compare", "--num-prompts", "6", "--input-len", "8", "--output-len", "16",
                "--long-input-len", "200", "--long-output-len", "2", "--long-fraction", "0.5", "--request-rate", "inf",
                "--max-concurrency", "4", "--num-warmups", "1", "--cores", "2", twoCores ? "--pin" : "--no-pin",
                "--log-dir", dir.resolve("logs").toString(), "--plot", dir.resolve("cmp.png").toString(),
                "--save-result", "--result-dir", dir.resolve("results").toString());

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("Workload mixed: 6 requests (3 x 8 in / 16 out, 3 x 200 in / 2 out)")
                .containsPattern("Metric\\s+colocated-2c\\s+pd-1p1d")
                .containsPattern("Successful requests\\s+6\\s+6")
                .containsPattern("Failed requests\\s+0\\s+0")
                .containsPattern("P99 TPOT \\(ms\\)\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d");
        assertThat(run.startedPids()).as(run.toString()).hasSize(4); // colocated, then prefill, decode, proxy
        for (long pid : run.startedPids()) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("pid " + pid).isFalse();
        }
        if (twoCores) assertThat(run.out()).contains("cores 0-1, 2 threads", "cores 0, 1 threads", "cores 1, 1 threads");
        assertThat(Files.size(dir.resolve("cmp.png"))).isPositive();
        try (Stream<Path> results = Files.list(dir.resolve("results"))) {
            assertThat(results.map(p -> p.getFileName().toString()))
                    .hasSize(2).anyMatch(n -> n.startsWith("colocated-2c-")).anyMatch(n -> n.startsWith("pd-1p1d-"));
        }
    }
}
