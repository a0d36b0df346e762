package dev.pdserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import dev.pdserve.cli.Main;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.server.OpenAiServer;
import dev.pdserve.server.TextCodec;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * `pdserve bench serve` against a real pdserve server (DeepSeek-V3 tiny, real HTTP): the prompt lengths the
 * server sees, the initial test request, and TTFT measured at the first token, not at a role chunk.
 */
class BenchAgainstServerTest {
    static final Path OUT = TestModels.repo().resolve("target/bench-server-test");
    static CausalLM model;
    static Tokenizer tokenizer;
    static Engine engine;
    static OpenAiServer server;

    @BeforeAll
    static void start() throws Exception {
        model = ModelLoader.load(TestModels.deepseek(), new LoadOptions(1, null));
        tokenizer = Tokenizer.load(TestModels.deepseek());
        engine = new Engine(model, tokenizer, EngineConfig.defaults(512).withKvCacheBytes(32L << 20).withMaxNumSeqs(16));
        server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("tiny")).start();
        Files.createDirectories(OUT);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
        if (model != null) model.close();
        if (tokenizer != null) tokenizer.close();
    }

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

    private static double metric(String name) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*} (\\S+)$").matcher(r.body());
        assertThat(m.find()).as(name).isTrue();
        return Double.parseDouble(m.group(1));
    }

    /** --random-input-len 10 is 10 prompt tokens at the server (9 of text + its BOS), and by default one test request goes first. */
    @Test
    void randomInputLenIsWhatTheServerSeesAndTheReadyCheckSendsOneRequest() throws Exception {
        double before = metric("vllm:e2e_request_latency_seconds_count");
        String[] r = run("bench", "serve", "--base-url", "http://127.0.0.1:" + server.port(), "--model", "tiny",
                "--tokenizer", TestModels.deepseek().toString(), "--random-input-len", "10", "--random-output-len", "4",
                "--num-prompts", "6", "--save-result", "--save-detailed",
                "--result-dir", OUT.toString(), "--result-filename", "len10.json", "--disable-tqdm");
        assertThat(r[0]).as(r[1] + r[2]).isEqualTo("0");
        assertThat(r[1]).contains("Starting initial single prompt test run...", "Initial test run completed.",
                        "Total input tokens:                      60 ", "Total generated tokens:                  24 ")
                .doesNotContain("tokenizer mismatch", "/tokenize unavailable");
        JsonNode j = new ObjectMapper().readTree(OUT.resolve("len10.json").toFile());
        assertThat(j.get("input_lens")).hasSize(6).allSatisfy(n -> assertThat(n.asInt()).isEqualTo(10));
        assertThat(j.get("output_lens")).allSatisfy(n -> assertThat(n.asInt()).isEqualTo(4));
        assertThat(metric("vllm:e2e_request_latency_seconds_count") - before).as("6 requests and the test one").isEqualTo(7);
    }

    /**
     * Chat, where the server's role chunk is the first chunk with choices: it must come with the first token,
     * so the client's TTFT (vLLM's definition: the first chunk with choices) is never below the server's own.
     */
    @Test
    void chatTtftIsTheFirstTokensNotTheRoleChunks() throws Exception {
        double ttftBefore = metric("vllm:time_to_first_token_seconds_sum");
        double countBefore = metric("vllm:time_to_first_token_seconds_count");
        String[] r = run("bench", "serve", "--backend", "openai-chat", "--base-url", "http://127.0.0.1:" + server.port(),
                "--model", "tiny", "--tokenizer", TestModels.deepseek().toString(), "--random-input-len", "64",
                "--random-output-len", "5", "--num-prompts", "4", "--max-concurrency", "1", "--save-result", "--save-detailed",
                "--result-dir", OUT.toString(), "--result-filename", "chat.json", "--disable-tqdm", "--ready-check-timeout-sec", "0");
        assertThat(r[0]).as(r[1] + r[2]).isEqualTo("0");
        JsonNode j = new ObjectMapper().readTree(OUT.resolve("chat.json").toFile());
        assertThat(metric("vllm:time_to_first_token_seconds_count") - countBefore).isEqualTo(4);
        double serverTtft = metric("vllm:time_to_first_token_seconds_sum") - ttftBefore;
        double clientTtft = 0;
        for (JsonNode t : j.get("ttfts")) clientTtft += t.asDouble();
        assertThat(clientTtft).as("client TTFT sum vs the server's").isGreaterThanOrEqualTo(serverTtft);
        // As vLLM's server: the role chunk, sent with the first token, then one chunk per token (the finish
        // reason rides on the last), so vLLM's client sees 6 events for 5 tokens.
        for (JsonNode itl : j.get("itls")) assertThat(itl).hasSize(5);
    }
}
