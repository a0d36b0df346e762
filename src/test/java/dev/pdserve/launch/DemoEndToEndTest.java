package dev.pdserve.launch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * `pdserve demo` for real: prefill, decode and proxy as child JVMs on loopback, one answer through the proxy,
 * 10 benchmark requests, every process stopped. The demo's own --timeout bounds it; the JUnit timeout is a
 * second guard (the shutdown hook still stops the children if it ever fires).
 */
class DemoEndToEndTest {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed test keeps its processes' logs
    Path logs;

    @Test
    @Timeout(value = 360, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void demoAnswersBenchmarksAndStopsEverything() throws Exception {
        CliCapture run = CliCapture.run("demo", "--log-dir", logs.toString(), "--timeout", "300");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        String answer = run.out().lines().filter(l -> l.startsWith("Answer: ")).findFirst().orElse("");
        assertThat(answer.substring("Answer: ".length()).strip()).as(run.toString()).isNotEmpty();
        assertThat(run.out()).contains("============ Serving Benchmark Result ============")
                .containsPattern("Successful requests:\\s+10\\s")
                .containsPattern("Failed requests:\\s+0\\s")
                .containsPattern("Total generated tokens:\\s+1000\\s") // 10 x 100 with ignore_eos
                .contains("Maximum request concurrency:", "Median TPOT (ms):", "demo OK");

        List<Long> pids = run.startedPids();
        assertThat(pids).as(run.toString()).hasSize(3);
        for (long pid : pids) {
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            assertThat(h.isEmpty() || !h.get().isAlive()).as("pid " + pid + " still running").isTrue();
        }
        for (String name : List.of("prefill.log", "decode.log", "proxy.log")) {
            assertThat(run.out()).contains(logs.resolve(name).toString());
            assertThat(Files.size(logs.resolve(name))).as(name).isPositive();
        }
        assertThat(Files.readString(logs.resolve("prefill.log"))).contains("kv_producer");
        assertThat(Files.readString(logs.resolve("decode.log"))).contains("kv_consumer");
    }
}
