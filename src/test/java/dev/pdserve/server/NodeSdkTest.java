package dev.pdserve.server;

import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import dev.pdserve.kv.PdInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The official OpenAI Node SDK (npm {@code openai}, pinned by src/test/resources/node-sdk's
 * package-lock.json, installed with {@code npm ci} into target/node-sdk) runs sdk-test.mjs
 * against a real {@code pdserve serve} of the tiny model with tool calling on: forced tool calls,
 * a tool result round trip, response_format, whole and streamed. Needs node and npm (README).
 */
@ExtendWith(TestLogs.class)
class NodeSdkTest {
    private static final String SDK_VERSION = "6.30.1";

    @Test
    void officialNodeSdkCallsToolsAndGetsStructuredOutput() throws Exception {
        String node = executable("node"), npm = executable("npm");
        Path logs = TestLogs.dir(NodeSdkTest.class);
        Path work = TestModels.repo().resolve("target/node-sdk");
        Files.createDirectories(work);
        Path src = TestModels.repo().resolve("src/test/resources/node-sdk");
        for (String f : List.of("package.json", "package-lock.json", "sdk-test.mjs")) {
            Files.copy(src.resolve(f), work.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        Path installed = work.resolve("node_modules/openai/package.json");
        if (!Files.isRegularFile(installed) || !Files.readString(installed).contains("\"version\": \"" + SDK_VERSION + "\"")) {
            run(List.of(npm, "ci", "--no-audit", "--no-fund"), work, logs.resolve("npm-ci.log"), 10);
        }
        try (PdInstance serve = PdInstance.serve("sdk-serve", logs, TestModels.deepseek(),
                List.of("--kv-cache-memory", "64MiB", "--enable-auto-tool-choice", "--tool-call-parser", "hermes"))) {
            serve.awaitServe();
            ProcessBuilder pb = new ProcessBuilder(node, "sdk-test.mjs").directory(work.toFile());
            pb.environment().put("PDSERVE_BASE_URL", "http://127.0.0.1:" + serve.port + "/v1");
            pb.environment().put("PDSERVE_MODEL", "tiny");
            Path out = logs.resolve("sdk-test.log");
            int code = run(pb, out, 15);
            String text = Files.readString(out);
            assertThat(code).as("node sdk-test.mjs (log %s; server log %s):\n%s", out, serve.log, text).isZero();
            assertThat(text).contains("OK 10 checks");
        }
    }

    /** The path of a program on PATH; fails saying what to install when it is missing. */
    private static String executable(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) return p.toString();
        }
        return fail(name + " is not on PATH: NodeSdkTest runs the official OpenAI Node SDK and needs Node.js 18+ and npm (see the README, Two commands)");
    }

    private static int run(List<String> cmd, Path dir, Path log, int minutes) throws Exception {
        int code = run(new ProcessBuilder(cmd).directory(dir.toFile()), log, minutes);
        if (code != 0) fail(String.join(" ", cmd) + " failed with " + code + ":\n" + Files.readString(log));
        return code;
    }

    private static int run(ProcessBuilder pb, Path log, int minutes) throws IOException, InterruptedException {
        Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail(String.join(" ", pb.command()) + " did not end within " + minutes + " minutes:\n" + Files.readString(log));
        }
        return p.exitValue();
    }
}
