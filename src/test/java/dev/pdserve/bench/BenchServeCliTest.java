package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import dev.pdserve.bench.FakeOpenAiServer.Behavior;
import dev.pdserve.bench.FakeOpenAiServer.Kind;
import dev.pdserve.cli.Main;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `pdserve bench serve` end to end, in process, against the loopback SSE server. */
class BenchServeCliTest {
    /** Kept under target/ so a person can look at what the CLI wrote (the plot in particular). */
    static final Path OUT = TestModels.repo().resolve("target/bench-cli-test");

    private static String[] run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.commandLine().execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new String[] {String.valueOf(code), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void randomWorkloadReportSavedJsonAndPlot() throws Exception {
        Files.createDirectories(OUT);
        try (var server = new FakeOpenAiServer((i, body) -> i % 10 == 9
                ? Behavior.fail(Kind.HTTP_500)
                : Behavior.ok(body.get("max_tokens").asInt(), 15 + (i % 4) * 5, 2 + (i % 3)))) {
            String[] r = run("bench", "serve", "--base-url", server.baseUrl(), "--tokenizer", TestModels.deepseek().toString(),
                    "--dataset-name", "random", "--random-input-len", "32", "--random-output-len", "8",
                    "--random-range-ratio", "0.25", "--num-prompts", "20", "--request-rate", "200", "--burstiness", "0.5",
                    "--max-concurrency", "8", "--seed", "1", "--percentile-metrics", "ttft,tpot,itl,e2el",
                    "--metric-percentiles", "50,90,99", "--goodput", "ttft:1000", "tpot:100",
                    "--save-result", "--save-detailed", "--result-dir", OUT.toString(), "--result-filename", "result.json",
                    "--plot", OUT.resolve("plot.png").toString(), "--disable-tqdm", "--ready-check-timeout-sec", "0");
            assertThat(r[0]).as(r[2]).isEqualTo("0");
            String text = r[1];
            System.out.println(text); // the sample summary in the test log
            assertThat(text).contains("============ Serving Benchmark Result ============", "Successful requests:                     18",
                    "Failed requests:                         2", "    2 x HTTP 500: engine overloaded",
                    "Failed requests during benchmark run detected (capping to 10):", "Error 0: HTTP 500: engine overloaded",
                    "Starting initial single prompt test run...", "Skipping endpoint ready check.",
                    "WARNING: /tokenize unavailable, skipping alignment.", "WARNING: vllm bench serve no longer sets temperature==0",
                    "Maximum request concurrency:             8", "Request rate configured (RPS):           200.00",
                    "Request goodput (req/s):", "P90 TPOT (ms):", "Median E2EL (ms):", "First model name: " + FakeOpenAiServer.MODEL,
                    "Burstiness factor: 0.5 (Gamma distribution)");
            assertThat(server.bodies).allSatisfy(b -> assertThat(b.get("ignore_eos").asBoolean()).isTrue()); // random => ignore_eos

            JsonNode j = new ObjectMapper().readTree(OUT.resolve("result.json").toFile());
            assertThat(j.get("completed").asInt()).isEqualTo(18);
            assertThat(j.get("failed").asInt()).isEqualTo(2);
            assertThat(j.get("num_prompts").asInt()).isEqualTo(20);
            assertThat(j.get("burstiness").asDouble()).isEqualTo(0.5);
            assertThat(j.get("tokenizer_id").asText()).endsWith("deepseek-v3-tiny");
            assertThat(j.get("requests")).hasSize(20);
            assertThat(j.get("total_output_tokens").asInt()).isEqualTo(sum(j.get("output_lens")));
            assertThat(ImageIO.read(OUT.resolve("plot.png").toFile())).isNotNull();
        }
    }

    @Test
    void chatBackendWithCustomDataset() throws Exception {
        Files.createDirectories(OUT);
        Path jsonl = OUT.resolve("prompts.jsonl");
        Files.writeString(jsonl, "{\"prompt\": \"def add(a, b):\", \"output_tokens\": 3}\n{\"prompt\": \"import sys\", \"output_tokens\": 5}\n");
        try (var server = new FakeOpenAiServer((i, body) -> Behavior.ok(body.get("max_completion_tokens").asInt(), 0, 1))) {
            String[] r = run("bench", "serve", "--backend", "openai-chat", "--base-url", server.baseUrl() + "/",
                    "--model", "my-model", "--tokenizer", TestModels.deepseek().toString(), "--dataset-name", "custom",
                    "--dataset-path", jsonl.toString(), "--num-prompts", "4", "--disable-tqdm", "--ready-check-timeout-sec", "0");
            assertThat(r[0]).as(r[2]).isEqualTo("0");
            // 4 prompts from a 2-line file: topped up with seeded repeats; each asks for its own output_tokens.
            int asked = server.bodies.stream().mapToInt(b -> b.get("max_completion_tokens").asInt()).sum();
            assertThat(server.bodies).hasSize(4).allSatisfy(b -> assertThat(b.get("max_completion_tokens").asInt()).isIn(3, 5));
            assertThat(r[1]).contains("Successful requests:                     4",
                    String.format("%-40s %-10d", "Total generated tokens:", asked));
            assertThat(server.bodies).allSatisfy(b -> {
                assertThat(b.get("model").asText()).isEqualTo("my-model");
                assertThat(b.has("ignore_eos")).isFalse();
            });
        }
    }

    @Test
    void badFlagsGiveClearErrors() {
        String[] r = run("bench", "serve", "--backend", "tgi", "--disable-tqdm");
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("unknown --backend 'tgi'");
        r = run("bench", "serve", "--request-rate", "fast", "--disable-tqdm");
        assertThat(r[2]).contains("--request-rate must be a positive number or inf");
        r = run("bench", "serve", "--dataset-name", "sharegpt", "--disable-tqdm");
        assertThat(r[2]).contains("needs --dataset-path");
        r = run("bench", "serve", "--goodput", "ttft=3", "--disable-tqdm", "--tokenizer", TestModels.deepseek().toString(),
                "--num-prompts", "1", "--random-input-len", "4");
        assertThat(r[2]).contains("KEY:VALUE");
        r = run("bench", "serve", "--port", "1", "--model", "m", "--num-prompts", "2", "--random-input-len", "4",
                "--random-output-len", "2", "--tokenizer", TestModels.deepseek().toString(), "--disable-tqdm", "--ready-check-timeout-sec", "0");
        // Nothing listens on port 1: every request fails with its reason, and the report still prints.
        assertThat(r[0]).isEqualTo("0");
        assertThat(r[1]).contains("Failed requests:                         2", "    2 x cannot connect to http://127.0.0.1:1/v1/completions (ConnectException",
                "WARNING: All requests failed");
    }

    private static int sum(JsonNode arr) {
        int s = 0;
        for (JsonNode n : arr) s += n.asInt();
        return s;
    }
}
