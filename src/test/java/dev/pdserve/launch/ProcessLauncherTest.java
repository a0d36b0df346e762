package dev.pdserve.launch;

import dev.pdserve.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The launcher against real child JVMs ({@link FakeServerMain}) on loopback: start, ready, stop, kill, errors. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessLauncherTest {
    private static final Duration READY = Duration.ofSeconds(60);

    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failed test keeps its processes' logs
    Path dir;

    private ProcessSpec fake(String name, int port, String mode, long delayMs, String cores) {
        return new ProcessSpec(name, JavaCommand.of(FakeServerMain.class.getName(),
                List.of(String.valueOf(port), mode, String.valueOf(delayMs)), cores), dir.resolve(name + ".log"),
                port > 0 ? URI.create("http://127.0.0.1:" + port + "/health") : null);
    }

    @Test
    void readyLineThenSigtermStopsIt() throws Exception {
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(10))) {
            ManagedProcess p = group.start(fake("fake", 0, "ready", 0, null));
            p.awaitReady(READY);
            assertThat(p.isAlive()).isTrue();
            assertThat(p.stop(Duration.ofSeconds(10))).isEqualTo(143); // 128 + SIGTERM: it exited on the signal
            assertThat(p.isAlive()).isFalse();
            assertThat(Files.readString(p.logFile())).contains("fake: a line on stderr", "fake got SIGTERM");
        }
    }

    @Test
    void healthAnswering200IsReadyWithoutTheLine() {
        int port = FreePorts.pick(1)[0];
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(10))) {
            ManagedProcess p = group.start(fake("health", port, "health", 300, null));
            p.awaitReady(READY);
            assertThat(p.logTail(10)).noneMatch(l -> l.contains(ProcessSpec.READY_LINE));
        }
    }

    @Test
    void exitBeforeReadyShowsExitCodeAndLogTail() {
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(10))) {
            ManagedProcess p = group.start(fake("broken", 0, "fail", 0, null));
            assertThatThrownBy(() -> p.awaitReady(READY)).isInstanceOf(LaunchException.class)
                    .hasMessageContaining("broken exited with code 3 before it was ready")
                    .hasMessageContaining("boom: no model here")
                    .hasMessageContaining(p.logFile().toString());
        }
    }

    @Test
    void timeoutNamesWhatWasAwaitedAndShowsLogTail() throws Exception {
        int port = FreePorts.pick(1)[0];
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(10))) {
            ManagedProcess p = group.start(fake("slow", port, "silent", 0, null));
            // A child JVM may take seconds to start on a loaded machine: the tail must have its first line to show.
            Await.until("the fake's first log line", () -> String.join("\n", p.logTail(5)).contains("fake starting"));
            assertThatThrownBy(() -> p.awaitReady(Duration.ofSeconds(2))).isInstanceOf(LaunchException.class)
                    .hasMessageContaining("slow was not ready after 2 s")
                    .hasMessageContaining("no 200 from http://127.0.0.1:" + port + "/health")
                    .hasMessageContaining("fake starting");
            assertThat(p.isAlive()).isTrue(); // the caller decides; closing the group stops it
        }
    }

    @Test
    void ignoringSigtermGetsKilledAfterTheGracePeriod() throws Exception {
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(10))) {
            ManagedProcess p = group.start(fake("stubborn", 0, "stubborn", 0, null));
            p.awaitReady(READY);
            long t0 = System.nanoTime();
            int code = p.stop(Duration.ofMillis(1500));
            assertThat(code).isEqualTo(137); // 128 + SIGKILL
            assertThat((System.nanoTime() - t0) / 1e9).isGreaterThanOrEqualTo(1.4);
            assertThat(Files.readString(p.logFile())).contains("fake got SIGTERM");
        }
    }

    @Test
    void closingTheGroupStopsEveryProcessAndRefusesNewOnes() {
        ProcessGroup group = new ProcessGroup(Duration.ofSeconds(5));
        List<ManagedProcess> ps = List.of(group.start(fake("a", 0, "ready", 0, null)),
                group.start(fake("b", 0, "stubborn", 0, null)));
        for (ManagedProcess p : ps) p.awaitReady(READY);
        group.close();
        assertThat(ps).noneMatch(ManagedProcess::isAlive);
        assertThatThrownBy(() -> group.start(fake("c", 0, "ready", 0, null)))
                .isInstanceOf(LaunchException.class).hasMessageContaining("already stopped");
    }

    @Test
    void theShutdownHookStopsChildrenWhenTheParentIsInterrupted() throws Exception {
        // The parent is a JVM of its own; SIGTERM runs its shutdown hooks exactly as Ctrl-C (SIGINT) does.
        ProcessGroup outer = new ProcessGroup(Duration.ofSeconds(20));
        try (outer) {
            ManagedProcess holder = outer.start(new ProcessSpec("holder",
                    JavaCommand.of(GroupHolderMain.class.getName(), List.of(dir.toString()), null),
                    dir.resolve("holder.log"), null));
            holder.awaitReady(READY);
            long childPid = holder.logTail(20).stream().filter(l -> l.startsWith("child pid "))
                    .map(l -> Long.parseLong(l.substring("child pid ".length()).strip())).findFirst().orElseThrow();
            Optional<ProcessHandle> child = ProcessHandle.of(childPid);
            assertThat(child).isPresent();
            assertThat(child.get().isAlive()).isTrue();

            holder.stop(Duration.ofSeconds(20));
            child.get().onExit().get(20, TimeUnit.SECONDS);
            assertThat(child.get().isAlive()).isFalse();
            assertThat(Files.readString(dir.resolve("grandchild.log"))).contains("fake got SIGTERM");
        }
    }

    @Test
    void pinnedProcessSeesOnlyItsCores() {
        assumeTrue(JavaCommand.taskset() != null, "no taskset on this system");
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(10))) {
            ManagedProcess p = group.start(fake("pinned", 0, "ready", 0, "0"));
            p.awaitReady(READY);
            assertThat(p.logTail(10)).contains("fake starting, cpus=1");
        }
        assertThat(JavaCommand.pdserve(List.of("serve"), "0-1")).startsWith(JavaCommand.taskset().toString(), "-c", "0-1");
    }

    @Test
    void freePortsAreDistinctAndBindable() throws Exception {
        int[] ports = FreePorts.pick(5);
        assertThat(Arrays.stream(ports).distinct().count()).isEqualTo(5);
        for (int port : ports) {
            try (var s = new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
                assertThat(s.getLocalPort()).isEqualTo(port);
            }
        }
    }

    @Test
    void commandRunsThisJvmsJavaWithPdserveFlags() {
        List<String> cmd = JavaCommand.pdserve(List.of("serve", "--port", "9"), null);
        assertThat(cmd.getFirst()).isEqualTo(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        assertThat(cmd).containsSubsequence("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.pdserve.cli.Main", "serve", "--port", "9");
        assertThatThrownBy(() -> new Placement("0-", 1)).hasMessageContaining("cpu list");
        assertThat(Placement.pinned("0-1").threads()).isEqualTo(2);
    }
}
