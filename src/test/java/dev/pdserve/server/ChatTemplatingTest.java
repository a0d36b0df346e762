package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.ChatTemplateInput;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Chat template inputs over real HTTP, as vLLM passes them: chat_template_kwargs, tools (dumped as
 * vLLM's models dump them), tool calls with their arguments parsed, continue_final_message, a
 * request's own chat_template only with --trust-request-chat-template, and template failures as a
 * 400 with the template's message, on /tokenize and /v1/chat/completions alike. The codec renders
 * with the real template engine and encodes one token per character, so /tokenize shows the text.
 */
class ChatTemplatingTest {
    private static final String TEMPLATE = """
            {%- if messages[0].content == 'forbidden' %}{{ raise_exception('This conversation is not allowed') }}{% endif -%}
            {{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}
            {%- for c in m.tool_calls | default([]) %}<call {{ c.function.name }} {{ c.function.arguments | tojson }}>{% endfor %}
            {%- if m.tool_call_id is defined %}({{ m.tool_call_id }}){% endif %}
            {% endfor %}
            {%- if tools %}<tools {{ tools | tojson }}>{% endif %}
            {%- if enable_thinking is defined and not enable_thinking %}<nothink>{% endif %}
            {%- if add_generation_prompt %}[assistant]{% endif %}
            """;
    @TempDir static Path dir;
    private static Tokenizer tokenizer;
    private static ScriptedEngine engine;
    private static OpenAiServer strict, trusting;
    private static Http http, trustingHttp;

    @BeforeAll
    static void start() throws IOException {
        Files.copy(TestModels.llama().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), TEMPLATE);
        tokenizer = Tokenizer.load(dir);
        CharCodec chars = new CharCodec();
        TextCodec codec = new TextCodec() {
            @Override public int[] encode(String text, boolean addSpecialTokens) { return chars.encode(text, addSpecialTokens); }
            @Override public String decode(int[] ids, boolean skipSpecialTokens) { return chars.decode(ids, skipSpecialTokens); }
            @Override public String tokenText(int id) { return chars.tokenText(id); }
            @Override public int vocabSize() { return chars.vocabSize(); }
            @Override public boolean hasChatTemplate() { return tokenizer.hasChatTemplate(); }
            @Override public String applyChatTemplate(ChatTemplateInput input) { return tokenizer.applyChatTemplate(input); }
        };
        engine = new ScriptedEngine(4096, 1);
        strict = new OpenAiServer(engine, codec, OpenAiServer.Options.loopback("tiny")).start();
        trusting = new OpenAiServer(engine, codec, OpenAiServer.Options.loopback("tiny")
                .withChatTemplating(new ChatTemplating(true, Map.of("enable_thinking", false), null))).start();
        http = new Http(strict.port());
        trustingHttp = new Http(trusting.port());
    }

    @AfterAll
    static void stop() {
        strict.close();
        trusting.close();
        engine.close();
        tokenizer.close();
    }

    @Test
    void tokenizeRendersKwargsToolsAndToolCalls() throws Exception {
        String body = """
                {"messages": [{"role": "user", "content": "weather?"},
                              {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                                 "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]},
                              {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
                 "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
                 "chat_template_kwargs": {"enable_thinking": false}}""";
        assertThat(text(http.post("/tokenize", body))).isEqualTo("<s>[user]weather?[assistant]<call get_weather {\"city\": \"Paris\"}>"
                + "[tool]sunny(c1)<tools [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": null, "
                + "\"parameters\": {\"type\": \"object\"}}}]><nothink>[assistant]");
        assertThat(text(http.post("/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"add_generation_prompt\": false}")))
                .isEqualTo("<s>[user]hi");
        // chat_template_kwargs override the request's own fields, as in vLLM
        assertThat(text(http.post("/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                + "\"chat_template_kwargs\": {\"add_generation_prompt\": false}}"))).isEqualTo("<s>[user]hi");
    }

    @Test
    void continueFinalMessage() throws Exception {
        String partial = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"Hello, \"}], ";
        assertThat(text(http.post("/tokenize", partial + "\"add_generation_prompt\": false, \"continue_final_message\": true}")))
                .isEqualTo("<s>[user]hi[assistant]Hello, ");
        assertError(http.post("/tokenize", partial + "\"continue_final_message\": true}"),
                "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
    }

    @Test
    void requestTemplatesNeedTrust() throws Exception {
        String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"chat_template\": \"{{ messages[0].content | upper }}{{ enable_thinking }}\"}";
        String refused = "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with untrusted chat template.";
        assertError(http.post("/tokenize", body), refused);
        assertError(http.post("/v1/chat/completions", body), refused);
        assertError(http.post("/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"chat_template_kwargs\": {\"chat_template\": \"x\"}}"), refused);
        assertThat(text(trustingHttp.post("/tokenize", body))).isEqualTo("HIFalse"); // --default-chat-template-kwargs
        assertThat(text(trustingHttp.post("/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                + "\"chat_template_kwargs\": {\"chat_template\": \"{{ enable_thinking }}\", \"enable_thinking\": true}}"))).isEqualTo("True");
    }

    @Test
    void templateFailuresAreTheRequestsFault() throws Exception {
        String forbidden = "{\"messages\": [{\"role\": \"user\", \"content\": \"forbidden\"}], \"max_tokens\": 1}";
        assertError(http.post("/tokenize", forbidden), "This conversation is not allowed");
        assertError(http.post("/v1/chat/completions", forbidden), "This conversation is not allowed");
        HttpResponse<String> broken = trustingHttp.post("/v1/chat/completions",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"chat_template\": \"{{ messages[0].content + 1 }}\"}");
        assertThat(broken.statusCode()).isEqualTo(400);
        assertThat(Http.json(broken).at("/error/message").asText()).contains("failed to render").contains("can only concatenate str");
        assertError(http.post("/tokenize", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"chat_template_kwargs\": {\"tokenize\": true}}"),
                "Found unexpected chat template kwargs from request: {'tokenize'}");
        assertError(http.post("/tokenize", "{\"messages\": [{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": "
                + "[{\"function\": {\"name\": \"f\", \"arguments\": \"{not json\"}}]}]}"), "tool call arguments are not valid JSON");
        // and the server goes on serving
        JsonNode ok = Http.json(http.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                + "\"chat_template_kwargs\": {\"enable_thinking\": false}, \"max_tokens\": 1}"));
        assertThat(ok.at("/usage/prompt_tokens").asInt()).isEqualTo("<s>[user]hi<nothink>[assistant]".length()); // checked with jinja2
    }

    @Test
    void serveFlags(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("t.jinja"), "{{ messages[0].content }}");
        ChatTemplating fromFile = ChatTemplating.fromFlags(file.toString(), false, "{\"enable_thinking\": false}");
        assertThat(fromFile.defaultTemplate()).isEqualTo("{{ messages[0].content }}");
        assertThat(fromFile.defaultKwargs()).isEqualTo(Map.of("enable_thinking", false));
        assertThat(fromFile.trustRequestTemplate()).isFalse();
        assertThat(ChatTemplating.fromFlags("{{ bos_token }}", true, null).defaultTemplate()).isEqualTo("{{ bos_token }}");
        assertThat(ChatTemplating.fromFlags(null, true, null)).isEqualTo(new ChatTemplating(true, Map.of(), null));
        assertThatThrownBy(() -> ChatTemplating.fromFlags(tmp.resolve("missing.jinja").toString(), false, null))
                .hasMessageContaining("--chat-template: no such file");
        assertThatThrownBy(() -> ChatTemplating.fromFlags(null, false, "[1]"))
                .hasMessageContaining("--default-chat-template-kwargs must be a JSON object");
    }

    private static String text(HttpResponse<String> r) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        StringBuilder out = new StringBuilder();
        for (JsonNode id : Http.json(r).get("tokens")) out.append((char) id.asInt());
        return out.toString();
    }

    private static void assertError(HttpResponse<String> r, String message) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonNode error = Http.json(r).get("error");
        assertThat(error.get("type").asText()).isEqualTo("BadRequestError");
        assertThat(error.get("message").asText()).contains(message);
    }
}
