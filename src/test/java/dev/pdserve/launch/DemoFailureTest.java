package dev.pdserve.launch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** `pdserve demo` when it cannot work: exit 1, a message that says why, no process left behind. */
class DemoFailureTest {
    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed test keeps its processes' logs
    Path logs;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void demoWithoutAModelFailsWithAClearMessage() {
        CliCapture run = CliCapture.run("demo", "--model", logs.resolve("nothing-here").toString(), "--log-dir", logs.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("demo failed: no model in", "nothing-here");
        assertThat(run.startedPids()).isEmpty();
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aModelThatCannotLoadFailsWithItsLogTailAndLeavesNothingRunning() throws Exception {
        Path broken = logs.resolve("broken-model");
        Files.createDirectories(broken);
        Files.writeString(broken.resolve("config.json"), "{\"model_type\": \"no-such-architecture\"}");
        CliCapture run = CliCapture.run("demo", "--model", broken.toString(), "--log-dir", logs.resolve("logs").toString());
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).as(run.toString()).contains("demo failed: ", "exited with code", "before it was ready", "last lines of");
        for (long pid : run.startedPids()) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("pid " + pid).isFalse();
        }
    }
}
