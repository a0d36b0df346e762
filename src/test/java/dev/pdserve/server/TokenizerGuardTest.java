package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.ChatTemplateInput;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tokenization cannot stall the server (issue 13): text provably over the context is refused by
 * its byte length before any of it is tokenized, and tokenizing runs off the threads that answer
 * {@code /health}.
 */
class TokenizerGuardTest {
    static Tokenizer tokenizer;
    static ScriptedEngine engine;

    @BeforeAll
    static void load() {
        tokenizer = Tokenizer.load(TestModels.llama());
        engine = new ScriptedEngine(64, 1);
    }

    @AfterAll
    static void close() {
        engine.close();
        tokenizer.close();
    }

    /** The real tokenizer, counting its calls; {@code spin} makes encode a busy loop until released (a long native call). */
    static final class Counting implements TextCodec {
        final TextCodec real = TextCodec.of(tokenizer);
        final AtomicInteger encodes = new AtomicInteger(), spinning = new AtomicInteger();
        volatile boolean spin, release;

        @Override public int[] encode(String text, boolean add) {
            encodes.incrementAndGet();
            if (spin) {
                spinning.incrementAndGet();
                long x = 0;
                while (!release) x += text.length(); // holds its thread like native code, never yields
                spinning.decrementAndGet();
                if (x == 42) return new int[0];
            }
            return real.encode(text, add);
        }
        @Override public String decode(int[] ids, boolean skip) { return real.decode(ids, skip); }
        @Override public String tokenText(int id) { return real.tokenText(id); }
        @Override public int vocabSize() { return real.vocabSize(); }
        @Override public int maxBytesPerToken() { return real.maxBytesPerToken(); }
        @Override public boolean hasChatTemplate() { return real.hasChatTemplate(); }
        @Override public String applyChatTemplate(ChatTemplateInput input) { return real.applyChatTemplate(input); }
    }

    @Test
    void theLlamaTokenizerHasAByteBoundAndTextOverItIsRefusedUntokenized() throws Exception {
        int perToken = tokenizer.maxBytesPerToken();
        assertThat(perToken).isBetween(4, 256);
        Counting codec = new Counting();
        try (OpenAiServer server = new OpenAiServer(engine, codec, OpenAiServer.Options.loopback("tiny")).start()) {
            Http http = new Http(server.port());
            String huge = "word ".repeat(400_000); // 2 MB
            JsonNode e = ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":\"" + huge + "\",\"max_tokens\":1}"), 400);
            assertThat(e.get("param").asText()).isEqualTo("prompt");
            assertThat(e.get("message").asText()).contains("2000000 bytes").contains("maximum context length of 64 tokens");
            ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":[\"ok\",\"" + huge + "\"],\"max_tokens\":1}"), 400);
            ErrorsAndLifecycleTest.error(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + huge + "\"}]}"), 400);
            ErrorsAndLifecycleTest.error(http.post("/tokenize", "{\"prompt\":\"" + huge + "\"}"), 400);
            assertThat(codec.encodes.get()).isEqualTo(1); // only the "ok" of the list, before the huge one
            // Just over the bound in bytes is refused; text the bound does not rule out is tokenized (and refused by its count).
            String over = "x".repeat(64 * perToken + 1);
            ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":\"" + over + "\",\"max_tokens\":1}"), 400);
            assertThat(codec.encodes.get()).isEqualTo(1);
            String under = "x ".repeat(64 * perToken / 2);
            ErrorsAndLifecycleTest.error(http.post("/v1/completions", "{\"prompt\":\"" + under + "\",\"max_tokens\":1}"), 400);
            assertThat(codec.encodes.get()).isEqualTo(2);
        }
    }

    @Test
    void healthAnswersWhileEveryCoreTokenizes() throws Exception {
        Counting codec = new Counting();
        codec.spin = true;
        int n = Runtime.getRuntime().availableProcessors() + 1;
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        try (OpenAiServer server = new OpenAiServer(engine, codec, OpenAiServer.Options.loopback("tiny")).start()) {
            Http http = new Http(server.port());
            try {
                for (int i = 0; i < n; i++) {
                    calls.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            return http.post("/tokenize", "{\"prompt\":\"spin\"}");
                        } catch (Exception e) {
                            throw new RuntimeException(e);
                        }
                    }));
                }
                until("every tokenizer thread to be busy", () -> codec.spinning.get() == n - 1);
                // With the tokenizing on the request threads, their carriers would be held and this would not answer.
                assertThat(http.get("/health").statusCode()).isEqualTo(200);
                assertThat(http.get("/v1/models").statusCode()).isEqualTo(200);
            } finally {
                codec.release = true;
            }
            for (var c : calls) assertThat(c.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
    }
}
