package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool calling at the HTTP layer, with an engine that writes what a tool-calling model writes
 * (hermes format): tools and tool results reach the template as transformers passes them, calls
 * come back as OpenAI tool_calls whole and as stream deltas (name first, arguments in pieces),
 * text that is no call stays content, and vLLM's 400s for tool_choice.
 */
class ToolCallingServerTest {
    static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather in a city\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
            + "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}}]";
    static final String CALLS = "I will look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Europe/Paris\"}}\n</tool_call>";
    static ReplyEngine engine, plainEngine;
    static OpenAiServer server, plain;
    static Http http, plainHttp;

    @BeforeAll
    static void start() {
        engine = new ReplyEngine();
        server = new OpenAiServer(engine, engine.codec, OpenAiServer.Options.loopback("tiny"), new OpenAiServer.Features(null, true, "hermes")).start();
        http = new Http(server.port());
        plainEngine = new ReplyEngine();
        plain = new OpenAiServer(plainEngine, plainEngine.codec, OpenAiServer.Options.loopback("tiny")).start();
        plainHttp = new Http(plain.port());
    }

    @AfterAll
    static void stop() {
        server.close();
        plain.close();
    }

    static String chat(String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather and time in Paris?\"}],\"tools\":" + TOOLS + extra + "}";
    }

    @Test
    void callsComeBackAsToolCalls() throws Exception {
        engine.reply = CALLS;
        JsonNode r = Http.json(http.post("/v1/chat/completions", chat("")));
        JsonNode choice = r.at("/choices/0");
        assertThat(choice.get("finish_reason").asText()).isEqualTo("tool_calls");
        assertThat(choice.at("/message/content").asText()).isEqualTo("I will look.\n");
        JsonNode calls = choice.at("/message/tool_calls");
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).get("id").asText()).matches("chatcmpl-tool-[0-9a-f]{32}");
        assertThat(calls.get(0).get("type").asText()).isEqualTo("function");
        assertThat(calls.get(0).at("/function/name").asText()).isEqualTo("get_weather");
        assertThat(Http.JSON.readTree(calls.get(0).at("/function/arguments").asText())).isEqualTo(Http.JSON.readTree("{\"city\":\"Paris\"}"));
        assertThat(calls.get(1).at("/function/name").asText()).isEqualTo("get_time");
        // the parser needs its markers: special tokens are kept in the text (vLLM's adjust_request)
        assertThat(engine.submitted.getLast().sampling().skipSpecialTokens()).isFalse();
    }

    @Test
    void streamedCallsComeAsDeltas() throws Exception {
        engine.reply = CALLS;
        List<String> events = Http.events(http.post("/v1/chat/completions", chat(",\"stream\":true")).body());
        assertThat(events.getLast()).isEqualTo("[DONE]");
        StringBuilder content = new StringBuilder();
        List<String> names = new ArrayList<>(), ids = new ArrayList<>();
        List<StringBuilder> args = new ArrayList<>();
        String finish = null;
        int argumentChunks = 0;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode c = Http.JSON.readTree(e).at("/choices/0");
            content.append(c.at("/delta/content").asText(""));
            for (JsonNode tc : c.at("/delta/tool_calls")) {
                int index = tc.get("index").asInt();
                if (tc.has("id")) {
                    assertThat(index).isEqualTo(names.size());
                    assertThat(tc.get("type").asText()).isEqualTo("function");
                    ids.add(tc.get("id").asText());
                    names.add(tc.at("/function/name").asText());
                    args.add(new StringBuilder());
                } else {
                    assertThat(tc.at("/function").has("name")).isFalse();
                    argumentChunks++;
                }
                args.get(index).append(tc.at("/function/arguments").asText());
            }
            if (!c.get("finish_reason").isNull()) finish = c.get("finish_reason").asText();
        }
        assertThat(content.toString()).isEqualTo("I will look.\n");
        assertThat(names).containsExactly("get_weather", "get_time");
        assertThat(ids).allMatch(id -> id.startsWith("chatcmpl-tool-")).doesNotHaveDuplicates();
        assertThat(argumentChunks).as("arguments come in pieces").isGreaterThan(2);
        assertThat(Http.JSON.readTree(args.get(0).toString())).isEqualTo(Http.JSON.readTree("{\"city\":\"Paris\"}"));
        assertThat(Http.JSON.readTree(args.get(1).toString())).isEqualTo(Http.JSON.readTree("{\"tz\":\"Europe/Paris\"}"));
        assertThat(finish).isEqualTo("tool_calls");
    }

    private static ChatCompletionFunctionTool tool(String name, String param) {
        FunctionParameters params = FunctionParameters.builder().putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty("properties", JsonValue.from(Map.of(param, Map.of("type", "string")))).build();
        return ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder().name(name).parameters(params).build()).build();
    }

    @Test
    void theOpenAiJavaSdkReadsTheCallsWholeAndStreamed() throws Exception {
        engine.reply = CALLS;
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("tiny").addUserMessage("Weather and time in Paris?")
                .addTool(tool("get_weather", "city")).addTool(tool("get_time", "tz")).build();
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port() + "/v1").apiKey("x").maxRetries(0).build();
        try {
            ChatCompletion whole = client.chat().completions().create(params);
            ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
            try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
                s.stream().forEach(acc::accumulate);
            }
            for (ChatCompletion c : List.of(whole, acc.chatCompletion())) {
                ChatCompletion.Choice choice = c.choices().getFirst();
                assertThat(choice.finishReason().asString()).isEqualTo("tool_calls");
                assertThat(choice.message().content()).contains("I will look.\n");
                List<ChatCompletionMessageFunctionToolCall> calls = choice.message().toolCalls().orElseThrow().stream().map(t -> t.asFunction()).toList();
                assertThat(calls).extracting(t -> t.function().name()).containsExactly("get_weather", "get_time");
                assertThat(calls.getFirst().id()).startsWith("chatcmpl-tool-");
                assertThat(Http.JSON.readTree(calls.getFirst().function().arguments())).isEqualTo(Http.JSON.readTree("{\"city\":\"Paris\"}"));
                assertThat(Http.JSON.readTree(calls.get(1).function().arguments())).isEqualTo(Http.JSON.readTree("{\"tz\":\"Europe/Paris\"}"));
            }
        } finally {
            client.close();
        }
    }

    @Test
    void textThatIsNoCallIsContent() throws Exception {
        engine.reply = "It is sunny. <tool_call>\n{\"name\": \"get_weather\", \"argu";
        JsonNode r = Http.json(http.post("/v1/chat/completions", chat("")));
        assertThat(r.at("/choices/0/message/content").asText()).isEqualTo(engine.reply);
        assertThat(r.at("/choices/0/message/tool_calls")).isEmpty();
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        // tool_choice none: no parsing at all
        engine.reply = CALLS;
        r = Http.json(http.post("/v1/chat/completions", chat(",\"tool_choice\":\"none\"")));
        assertThat(r.at("/choices/0/message/content").asText()).isEqualTo(CALLS);
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    @SuppressWarnings("unchecked")
    void toolsAndToolResultsReachTheTemplate() throws Exception {
        engine.reply = "Sunny.";
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"22 C\"}],\"tools\":" + TOOLS + "}";
        JsonNode r = Http.json(http.post("/v1/chat/completions", body));
        assertThat(r.at("/choices/0/message/content").asText()).isEqualTo("Sunny.");
        Map<String, Object> call = engine.templateCalls.getLast();
        List<Map<String, Object>> messages = (List<Map<String, Object>>) call.get("messages");
        Map<String, Object> assistant = messages.get(1);
        assertThat(assistant).containsEntry("content", ""); // vLLM joins no text parts to ""
        Map<String, Object> fn = (Map<String, Object>) ((List<Map<String, Object>>) assistant.get("tool_calls")).getFirst().get("function");
        assertThat(fn).containsEntry("name", "get_weather");
        assertThat(fn.get("arguments")).isEqualTo(Map.of("city", "Paris")); // parsed, as vLLM does before rendering
        assertThat(messages.get(2)).containsEntry("role", "tool").containsEntry("tool_call_id", "call_1").containsEntry("content", "22 C");
        List<Map<String, Object>> tools = (List<Map<String, Object>>) ((Map<String, Object>) call.get("extra")).get("tools");
        assertThat(tools).hasSize(2);
        assertThat(((Map<String, Object>) tools.getFirst().get("function")).get("name")).isEqualTo("get_weather");
    }

    @Test
    void vllmRefusals() throws Exception {
        // auto (the default with tools) needs the flags
        HttpResponse r = new HttpResponse(plainHttp.post("/v1/chat/completions", chat("")));
        r.is400("tool_choice", "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set");
        r = new HttpResponse(plainHttp.post("/v1/chat/completions", chat(",\"tool_choice\":\"auto\"")));
        r.is400("tool_choice", "\"auto\" tool choice requires");
        // without the flags, tool_choice none still renders the tools and answers
        plainEngine.reply = "ok";
        assertThat(Http.json(plainHttp.post("/v1/chat/completions", chat(",\"tool_choice\":\"none\""))).at("/choices/0/message/content").asText()).isEqualTo("ok");
        new HttpResponse(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"required\"}"))
                .is400("tool_choice", "When using `tool_choice`, `tools` must be set.");
        new HttpResponse(http.post("/v1/chat/completions", chat(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}")))
                .is400("tool_choice", "Tool 'nope' has not been passed in `tools`.");
        new HttpResponse(http.post("/v1/chat/completions", chat(",\"tool_choice\":\"sometimes\""))).is400("tool_choice", "tool_choice must be");
        new HttpResponse(http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\"}]}"))
                .is400("tools", "each tool must be");
        // required needs structured output, which this server lacks: a 400 naming tools, not a silent free-form answer
        new HttpResponse(http.post("/v1/chat/completions", chat(",\"tool_choice\":\"required\""))).is400("tools", "structured output is not available");
    }

    /** A response checked as an OpenAI error. */
    record HttpResponse(java.net.http.HttpResponse<String> r) {
        void is400(String param, String messageStart) throws Exception {
            assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
            JsonNode e = Http.json(r).get("error");
            assertThat(e.get("param").asText()).as(r.body()).isEqualTo(param);
            assertThat(e.get("message").asText()).startsWith(messageStart);
        }
    }
}
