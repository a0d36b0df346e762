package dev.pdserve.server;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The official OpenAI Java SDK completes, chats and streams against the server, as users' code would. */
class OpenAiClientTest {
    static ScriptedEngine engine;
    static OpenAiServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        engine = new ScriptedEngine(256, 1);
        server = new OpenAiServer(engine, engine.codec(), new OpenAiServer.Options("127.0.0.1", 0, "tiny", "key-1", 1 << 20, "dev")).start();
        client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("key-1").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
        engine.close();
    }

    @Test
    void completesAndStreams() {
        CompletionCreateParams params = CompletionCreateParams.builder().model("tiny").prompt("hello").maxTokens(5).temperature(0.0).build();
        Completion c = client.completions().create(params);
        String expected = ScriptedEngine.expectedText(new CharCodec().encode("hello", true), 5);
        assertThat(c.choices().getFirst().text()).isEqualTo(expected);
        assertThat(c.choices().getFirst().finishReason().asString()).isEqualTo("length");
        assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(5);

        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<Completion> s = client.completions().createStreaming(params)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> streamed.append(ch.text())));
        }
        assertThat(streamed.toString()).isEqualTo(expected);
    }

    @Test
    void chatsAndStreamsChat() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("tiny").addUserMessage("hi").maxCompletionTokens(4).build();
        ChatCompletion chat = client.chat().completions().create(params);
        String expected = ScriptedEngine.expectedText(new CharCodec().encode("[user]hi\n[assistant]", false), 4);
        assertThat(chat.choices().getFirst().message().content()).contains(expected);

        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo(expected);
    }
}
