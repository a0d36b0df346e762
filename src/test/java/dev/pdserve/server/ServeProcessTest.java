package dev.pdserve.server;

import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import dev.pdserve.kv.PdInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/** `pdserve serve` as a real process: vLLM's startup line, then SIGTERM drains a running stream before exiting. */
@ExtendWith(TestLogs.class)
class ServeProcessTest {
    @Test
    void sigtermDrainsThenExits() throws Exception {
        try (PdInstance serve = PdInstance.serve("serve", TestLogs.dir(ServeProcessTest.class), TestModels.deepseek(),
                List.of("--kv-cache-memory", "32MiB", "--enforce-eager"))) {
            serve.awaitServe();
            Http http = new Http(serve.port);

            CompletableFuture<List<String>> stream = CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<InputStream> r = http.postStream("/v1/completions",
                            "{\"prompt\":\"import os\",\"max_tokens\":1000,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
                    return Http.events(new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            until("the stream to run", () -> http.get("/metrics").body().contains("vllm:num_requests_running{engine=\"0\",model_name=\"tiny\"} 1.0"));
            serve.process.destroy(); // SIGTERM
            until("the server to drain", () -> http.get("/health").statusCode() == 503);
            ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1}"), 503);
            List<String> events = stream.get(60, TimeUnit.SECONDS);
            assertThat(events.getLast()).isEqualTo("[DONE]");
            // The stream ran to its end: all 1000 tokens, finish_reason "length".
            assertThat(Http.JSON.readTree(events.get(events.size() - 2)).get("usage").get("completion_tokens").asInt()).isEqualTo(1000);
            assertThat(Http.JSON.readTree(events.get(events.size() - 3)).get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
            assertThat(serve.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.readString(serve.log)).contains("--enforce-eager").contains("drained");
        }
    }
}
