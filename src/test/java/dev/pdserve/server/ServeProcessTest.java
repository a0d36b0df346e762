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
import java.nio.file.Path;
import com.fasterxml.jackson.databind.JsonNode;
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

    /**
     * A prefill instance that gets SIGTERM with KV still leased for a decode instance keeps serving that
     * KV until it is pulled, so the PD request in flight finishes; only then does it exit.
     */
    @Test
    void sigtermOnAPrefillInstanceWaitsUntilItsKvIsPulled() throws Exception {
        Path logs = TestLogs.dir(ServeProcessTest.class);
        String producer = "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_producer\",\"kv_port\":0}";
        String consumer = "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_consumer\",\"kv_port\":0}";
        try (PdInstance prefill = PdInstance.serve("prefill", logs, TestModels.deepseek(), List.of("--kv-cache-memory", "32MiB", "--kv-transfer-config", producer));
             PdInstance decode = PdInstance.serve("decode", logs, TestModels.deepseek(), List.of("--kv-cache-memory", "32MiB", "--kv-transfer-config", consumer))) {
            prefill.awaitServe();
            decode.awaitServe();
            Http p = new Http(prefill.port), d = new Http(decode.port);
            HttpResponse<String> first = p.post("/v1/completions",
                    "{\"prompt\":\"import os\",\"max_tokens\":1,\"min_tokens\":1,\"kv_transfer_params\":{\"do_remote_decode\":true}}");
            assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
            JsonNode params = Http.json(first).get("kv_transfer_params");
            assertThat(params.get("do_remote_prefill").asBoolean()).isTrue();

            prefill.process.destroy(); // SIGTERM with the prompt's blocks leased
            until("the prefill instance to drain", () -> p.get("/health").statusCode() == 503);
            assertThat(p.get("/metrics").body()).containsPattern("pdserve:kv_blocks_leased\\{[^}]*\\} [1-9]");
            assertThat(prefill.process.isAlive()).isTrue();

            HttpResponse<String> second = d.post("/v1/completions",
                    "{\"prompt\":\"import os\",\"max_tokens\":5,\"kv_transfer_params\":" + params + "}");
            assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
            assertThat(d.get("/metrics").body()).containsPattern("pdserve:kv_transfer_seconds_count\\{[^}]*\\} [1-9]");
            assertThat(prefill.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.readString(prefill.log)).contains("drained, bye");
        }
    }
}
