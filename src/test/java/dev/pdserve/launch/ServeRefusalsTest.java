package dev.pdserve.launch;

import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * `pdserve serve` and `pdserve proxy` as real processes, refusing what they cannot do: exit code 1,
 * one line that says why (with the numbers), and no readiness line before it.
 */
@ExtendWith(TestLogs.class)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ServeRefusalsTest {
    private final Path logs = TestLogs.dir(ServeRefusalsTest.class);

    /** What a finished child printed (stdout and stderr together) and its exit code. */
    private record Run(int exitCode, String output) {
        /** The lines pdserve itself wrote: not the JVM's own warnings. */
        List<String> errorLines() {
            return output.lines().filter(l -> l.startsWith("error: ")).toList();
        }
    }

    private Run run(String name, List<String> args, String... env) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("env", "JAVA_TOOL_OPTIONS=-Xmx512m"));
        cmd.addAll(List.of(env));
        cmd.addAll(JavaCommand.pdserve(args, null));
        Path log = logs.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(name + " did not exit; " + log + ":\n" + Files.readString(log));
        }
        return new Run(p.exitValue(), Files.readString(log));
    }

    private static List<String> serve(String... more) {
        List<String> args = new ArrayList<>(List.of("serve", TestModels.deepseek().toString(), "--host", "127.0.0.1", "--port", "0",
                "--threads", "1"));
        args.addAll(List.of(more));
        return args;
    }

    @Test
    void maxModelLenAboveTheTrainedLengthIsRefusedWithBothNumbers() throws Exception {
        Run r = run("max-model-len", serve("--max-model-len", "4096"));
        assertThat(r.exitCode()).as(r.output()).isEqualTo(1);
        assertThat(r.errorLines()).singleElement().asString()
                .contains("--max-model-len 4096", "maximum length 1024", "original_max_position_embeddings=256 x yarn factor 4.0", "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1");
        assertThat(r.output()).doesNotContain("Application startup complete.", "loading ");
        // The override, VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, is SeedCommandLinesTest's: its command lines ask for 32768.
    }

    @Test
    void aPortInUseStopsServeAndProxyBeforeAnyReadinessLine() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            List<String> args = serve();
            args.set(args.indexOf("--port") + 1, String.valueOf(port));
            Run s = run("serve-port-in-use", args);
            assertThat(s.exitCode()).as(s.output()).isEqualTo(1);
            assertThat(s.errorLines()).singleElement().asString().contains("port " + port, "already in use");
            assertThat(s.output()).doesNotContain("Application startup complete.", "Exception", "\tat ");

            Run p = run("proxy-port-in-use", List.of("proxy", "--host", "127.0.0.1", "--port", String.valueOf(port),
                    "--prefiller-ports", "1", "--decoder-ports", "2"));
            assertThat(p.exitCode()).as(p.output()).isEqualTo(1);
            assertThat(p.errorLines()).singleElement().asString().contains("port " + port, "already in use");
            assertThat(p.output()).doesNotContain("pdserve proxy on", "Exception", "\tat ");
        }
    }

    @Test
    void valuesPdserveCannotHonourAreRefusedNamingTheFlagOrField() throws Exception {
        Run dp = run("data-parallel", serve("--data-parallel-size", "2"));
        assertThat(dp.exitCode()).as(dp.output()).isEqualTo(1);
        assertThat(dp.errorLines()).singleElement().asString()
                .startsWith("error: --data-parallel-size 2: pdserve runs one engine per process").contains("pdserve proxy");

        Run kv = run("kv-port", serve("--kv-transfer-config", "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_producer\",\"kv_port\":\"abc\"}"));
        assertThat(kv.exitCode()).as(kv.output()).isEqualTo(1);
        assertThat(kv.errorLines()).containsExactly("error: --kv-transfer-config field 'kv_port' must be an integer, got \"abc\"");

        Run extra = run("additional-config", serve("--additional-config", "{\"torchair_graph_config\":{\"enabled\":\"sometimes\"}}"));
        assertThat(extra.exitCode()).as(extra.output()).isEqualTo(1);
        assertThat(extra.errorLines()).singleElement().asString()
                .startsWith("error: --additional-config field 'torchair_graph_config.enabled' must be a boolean");
    }

    @Test
    void aKvPoolLargerThanFreeRamIsRefused() throws Exception {
        Run r = run("kv-pool", serve(), "VLLM_CPU_KVCACHE_SPACE=100000");
        assertThat(r.exitCode()).as(r.output()).isEqualTo(1);
        assertThat(r.errorLines()).singleElement().asString()
                .contains("the KV cache of 100000.00 GiB (VLLM_CPU_KVCACHE_SPACE=100000) is larger than the free RAM", "GiB after loading the model");
        assertThat(r.output()).doesNotContain("Application startup complete.");
    }
}
