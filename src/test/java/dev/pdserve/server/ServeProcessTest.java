package dev.pdserve.server;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** `pdserve serve` as a real process: vLLM's startup line, then SIGTERM drains a running stream before exiting. */
class ServeProcessTest {
    @Test
    void sigtermDrainsThenExits() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Path log = Files.createTempFile("pdserve-serve", ".log");
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.pdserve.cli.Main", "serve", TestModels.deepseek().toString(),
                "--host", "127.0.0.1", "--port", "0", "--served-model-name", "tiny", "--kv-cache-memory", "32MiB",
                "--threads", "1", "--enforce-eager", "--max-model-len", "1024")
                .redirectError(log.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            int port = -1;
            String line;
            while ((line = out.readLine()) != null && !line.contains("Application startup complete.")) {
                Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)").matcher(line);
                if (m.find()) port = Integer.parseInt(m.group(1));
            }
            assertThat(line).as(Files.readString(log)).isNotNull();
            assertThat(port).isPositive();
            Http http = new Http(port);

            CompletableFuture<List<String>> stream = CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<InputStream> r = http.postStream("/v1/completions",
                            "{\"prompt\":\"import os\",\"max_tokens\":1000,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
                    return Http.events(new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!http.get("/metrics").body().contains("vllm:num_requests_running{engine=\"0\",model_name=\"tiny\"} 1.0")
                    && System.nanoTime() < deadline) Thread.sleep(5);
            p.destroy(); // SIGTERM
            while (http.get("/health").statusCode() != 503 && System.nanoTime() < deadline) Thread.sleep(2);
            ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1}"), 503);
            List<String> events = stream.get(60, TimeUnit.SECONDS);
            assertThat(events.getLast()).isEqualTo("[DONE]");
            // The stream ran to its end: all 1000 tokens, finish_reason "length".
            assertThat(Http.JSON.readTree(events.get(events.size() - 2)).get("usage").get("completion_tokens").asInt()).isEqualTo(1000);
            assertThat(Http.JSON.readTree(events.get(events.size() - 3)).get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.readString(log)).contains("--enforce-eager").contains("drained");
        } finally {
            p.destroyForcibly();
        }
    }
}
