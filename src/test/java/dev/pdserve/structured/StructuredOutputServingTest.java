package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.server.OpenAiServer;
import dev.pdserve.server.TextCodec;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Structured output served end to end by the real engine on the DeepSeek-V3 tiny model, whose
 * random weights write no JSON on their own: fifty nested schemas through response_format all give
 * outputs that parse and validate (networknt); vLLM's other spellings on completions; streaming
 * with n > 1 and logprobs; max_tokens cuts with "length"; bad constraints are 400s naming the field.
 */
class StructuredOutputServingTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static CausalLM model;
    static Tokenizer tokenizer;
    static Engine engine;
    static OpenAiServer server;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() {
        Path dir = TestModels.deepseek();
        model = ModelLoader.load(dir, new LoadOptions(2, null));
        tokenizer = Tokenizer.load(dir);
        engine = new Engine(model, tokenizer, EngineConfig.defaults(1024).withKvCacheBytes(64L << 20).withMaxNumSeqs(64));
        OpenAiServer.Features features = new OpenAiServer.Features(
                () -> new StructuredOutputs(TokenVocabulary.load(tokenizer, dir, model.vocabSize(), model.config().eosTokenIds())), false, null);
        server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("tiny"), features).start();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
        if (model != null) model.close();
        if (tokenizer != null) tokenizer.close();
    }

    @AfterEach
    void noBlockLeft() throws Exception {
        until("the KV cache to be empty", () -> engine.stats().numBlocksUsed() == 0);
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofMinutes(5)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    @Test
    void fiftySchemasAllParseAndValidate() throws Exception {
        List<ObjectNode> schemas = ServedSchemas.all();
        List<CompletableFuture<String>> answers = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            for (int i = 0; i < schemas.size(); i++) {
                ObjectNode body = ServedSchemas.chatRequest(i, schemas.get(i));
                answers.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return post("/v1/chat/completions", body.toString()).body();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }, pool));
            }
        }
        int valid = 0;
        for (int i = 0; i < schemas.size(); i++) {
            JsonNode r = JSON.readTree(answers.get(i).join());
            JsonNode choice = r.path("choices").path(0);
            assertThat(choice.path("finish_reason").asText()).as("schema %d: %s", i, r).isEqualTo("stop");
            String content = choice.path("message").path("content").asText();
            assertThat(new SchemaValidator(schemas.get(i)).errors(content)).as("schema %d output %s", i, content).isEmpty();
            valid++;
        }
        assertThat(valid).isEqualTo(ServedSchemas.COUNT);
    }

    @Test
    void withoutAConstraintTheModelWritesNoJson() throws Exception {
        // The honesty check of the test above: the same requests without response_format do not parse.
        int parsed = 0;
        for (int i = 0; i < 5; i++) {
            ObjectNode body = ServedSchemas.chatRequest(i, ServedSchemas.schema(i));
            body.remove("response_format");
            body.put("max_tokens", 60);
            String content = ok(post("/v1/chat/completions", body.toString())).path("choices").path(0).path("message").path("content").asText();
            if (new SchemaValidator(ServedSchemas.schema(i)).errors(content).isEmpty()) parsed++;
        }
        assertThat(parsed).isZero();
    }

    @Test
    void vllmSpellingsOnCompletions() throws Exception {
        String regex = "[a-z]{3,8}@(example|test)\\.com";
        JsonNode r = ok(post("/v1/completions", "{\"prompt\":\"mail:\",\"max_tokens\":60,\"temperature\":0,\"guided_regex\":" + JSON.writeValueAsString(regex) + "}"));
        assertThat(r.at("/choices/0/text").asText()).matches(Pattern.compile(regex));
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("stop");

        r = ok(post("/v1/completions", "{\"prompt\":\"pick:\",\"max_tokens\":20,\"temperature\":1,\"seed\":3,\"n\":3,\"guided_choice\":[\"yes\",\"no\",\"maybe later\"]}"));
        for (JsonNode c : r.get("choices")) assertThat(c.get("text").asText()).isIn("yes", "no", "maybe later");

        String gbnf = "root ::= \"(\" num (\"+\" num)* \")\"\nnum ::= [1-9] [0-9]?";
        r = ok(post("/v1/completions", "{\"prompt\":\"sum:\",\"max_tokens\":200,\"temperature\":0,\"guided_grammar\":" + JSON.writeValueAsString(gbnf) + "}"));
        assertThat(r.at("/choices/0/text").asText()).matches("\\([1-9][0-9]?(\\+[1-9][0-9]?)*\\)");

        ObjectNode schema = ServedSchemas.schema(7);
        r = ok(post("/v1/completions", "{\"prompt\":\"json:\",\"max_tokens\":900,\"temperature\":0,\"guided_json\":" + schema + "}"));
        assertThat(new SchemaValidator(schema).errors(r.at("/choices/0/text").asText())).isEmpty();

        r = ok(post("/v1/completions", "{\"prompt\":\"json:\",\"max_tokens\":900,\"temperature\":0,\"structured_outputs\":{\"json\":" + schema + ",\"disable_any_whitespace\":true}}"));
        String compact = r.at("/choices/0/text").asText();
        assertThat(new SchemaValidator(schema).errors(compact)).isEmpty();
        assertThat(compact).doesNotContain("\n");

        r = ok(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":400,\"temperature\":0,\"response_format\":{\"type\":\"json_object\"}}"));
        String obj = r.at("/choices/0/message/content").asText();
        if (r.at("/choices/0/finish_reason").asText().equals("stop")) assertThat(JSON.readTree(obj).isObject()).as(obj).isTrue();
        else assertThat(obj).startsWith("{");
    }

    @Test
    void streamingWithSeveralChoicesAndLogprobs() throws Exception {
        ObjectNode schema = ServedSchemas.schema(3);
        ObjectNode body = ServedSchemas.chatRequest(1, schema).put("stream", true).put("n", 2).put("logprobs", true).put("top_logprobs", 2);
        String sse = post("/v1/chat/completions", body.toString()).body();
        StringBuilder[] text = {new StringBuilder(), new StringBuilder()};
        String[] finish = new String[2];
        int logprobTokens = 0;
        for (String line : sse.split("\n")) {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
            JsonNode chunk = JSON.readTree(line.substring(6));
            for (JsonNode c : chunk.path("choices")) {
                int idx = c.get("index").asInt();
                text[idx].append(c.path("delta").path("content").asText(""));
                if (!c.path("finish_reason").isNull()) finish[idx] = c.get("finish_reason").asText();
                for (JsonNode lp : c.path("logprobs").path("content")) {
                    logprobTokens++;
                    // logprobs are of the masked distribution: the chosen token is possible
                    assertThat(lp.get("logprob").asDouble()).isGreaterThan(Double.NEGATIVE_INFINITY);
                }
            }
        }
        for (int i = 0; i < 2; i++) {
            assertThat(finish[i]).isEqualTo("stop");
            assertThat(new SchemaValidator(schema).errors(text[i].toString())).as(text[i].toString()).isEmpty();
        }
        assertThat(logprobTokens).isPositive();
    }

    @Test
    void maxTokensCutsWithLengthAndStopStringsStillCut() throws Exception {
        ObjectNode body = ServedSchemas.chatRequest(0, ServedSchemas.schema(0)).put("max_tokens", 3);
        JsonNode r = ok(post("/v1/chat/completions", body.toString()));
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(r.at("/usage/completion_tokens").asInt()).isEqualTo(3);
        assertThat(r.at("/choices/0/message/content").asText()).startsWith("{");

        r = ok(post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":50,\"temperature\":0,\"guided_regex\":\"abc;def\",\"stop\":[\";\"]}"));
        assertThat(r.at("/choices/0/text").asText()).isEqualTo("abc");
        assertThat(r.at("/choices/0/stop_reason").asText()).isEqualTo(";");
    }

    @Test
    void badConstraintsAreRefusedNamingTheField() throws Exception {
        assertError(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strin\"}}}}}}"), "response_format");
        assertError(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}"), "response_format");
        assertError(post("/v1/completions", "{\"prompt\":\"x\",\"guided_regex\":\"(unclosed\"}"), "guided_regex");
        assertError(post("/v1/completions", "{\"prompt\":\"x\",\"guided_choice\":[]}"), "guided_choice");
        assertError(post("/v1/completions", "{\"prompt\":\"x\",\"guided_grammar\":\"root ::= undefined\"}"), "guided_grammar");
        assertError(post("/v1/completions", "{\"prompt\":\"x\",\"guided_json\":\"{not json\"}"), "guided_json");
        assertError(post("/v1/completions", "{\"prompt\":\"x\",\"guided_regex\":\"a\",\"guided_choice\":[\"b\"]}"), "guided_choice");
        // and the server still serves
        ok(post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":5,\"guided_choice\":[\"ok\"]}"));
    }

    /** Two tools with bounded parameters: the random model must still end every call. */
    static final String TOOLS = """
            [{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":
              {"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"type":"string","enum":["c","f"]}},
               "required":["city","unit"],"additionalProperties":false}}},
             {"type":"function","function":{"name":"add","parameters":
              {"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":99},"b":{"type":"integer","minimum":0,"maximum":99}},
               "required":["a","b"],"additionalProperties":false}}}]""";

    static JsonNode toolParameters(String name) throws Exception {
        for (JsonNode t : JSON.readTree(TOOLS)) if (t.at("/function/name").asText().equals(name)) return t.at("/function/parameters");
        throw new AssertionError("model called an unknown tool " + name);
    }

    static String toolRequest(String toolChoice, boolean stream, int seed) {
        return "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in Paris, and 2+3?\"}],"
                + "\"tools\":" + TOOLS + ",\"tool_choice\":" + toolChoice + ",\"max_tokens\":400,\"temperature\":" + (seed == 0 ? "0" : "1,\"seed\":" + seed)
                + (stream ? ",\"stream\":true" : "") + "}";
    }

    @Test
    void toolChoiceRequiredAndNamedGiveValidCallsFromTheRealModel() throws Exception {
        // tool_choice "required" and a named function constrain the real engine's output (vLLM's way):
        // whatever the random weights prefer, the calls parse and their arguments validate.
        for (int seed = 0; seed < 4; seed++) {
            JsonNode r = ok(post("/v1/chat/completions", toolRequest("\"required\"", false, seed)));
            JsonNode choice = r.at("/choices/0");
            assertThat(choice.path("finish_reason").asText()).as(r.toString()).isEqualTo("tool_calls");
            JsonNode calls = choice.at("/message/tool_calls");
            assertThat(calls.size()).as(r.toString()).isPositive();
            for (JsonNode call : calls) {
                assertThat(call.path("type").asText()).isEqualTo("function");
                assertThat(call.path("id").asText()).isNotEmpty();
                String name = call.at("/function/name").asText();
                String args = call.at("/function/arguments").asText();
                assertThat(new SchemaValidator(toolParameters(name)).errors(args)).as("%s(%s)", name, args).isEmpty();
            }
        }
        JsonNode r = ok(post("/v1/chat/completions", toolRequest("{\"type\":\"function\",\"function\":{\"name\":\"add\"}}", false, 0)));
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        JsonNode calls = r.at("/choices/0/message/tool_calls");
        assertThat(calls.size()).isEqualTo(1);
        assertThat(calls.at("/0/function/name").asText()).isEqualTo("add");
        assertThat(new SchemaValidator(toolParameters("add")).errors(calls.at("/0/function/arguments").asText())).isEmpty();
    }

    @Test
    void streamedRequiredToolCallsAddUpToTheWholeAnswer() throws Exception {
        JsonNode whole = ok(post("/v1/chat/completions", toolRequest("\"required\"", false, 0))).at("/choices/0/message/tool_calls");
        String sse = post("/v1/chat/completions", toolRequest("\"required\"", true, 0)).body();
        List<String> names = new ArrayList<>();
        List<StringBuilder> args = new ArrayList<>();
        String finish = null;
        for (String line : sse.split("\n")) {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
            JsonNode c = JSON.readTree(line.substring(6)).path("choices").path(0);
            for (JsonNode d : c.path("delta").path("tool_calls")) {
                int i = d.get("index").asInt();
                while (names.size() <= i) { names.add(null); args.add(new StringBuilder()); }
                if (d.at("/function/name").isTextual()) names.set(i, d.at("/function/name").asText());
                args.get(i).append(d.at("/function/arguments").asText(""));
            }
            if (c.hasNonNull("finish_reason")) finish = c.get("finish_reason").asText();
        }
        assertThat(finish).isEqualTo("tool_calls");
        assertThat(names).hasSize(whole.size());
        for (int i = 0; i < whole.size(); i++) {
            assertThat(names.get(i)).isEqualTo(whole.get(i).at("/function/name").asText());
            assertThat(JSON.readTree(args.get(i).toString())).isEqualTo(JSON.readTree(whole.get(i).at("/function/arguments").asText()));
        }
    }

    static void assertError(HttpResponse<String> r, String param) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertThat(e.get("param").asText()).as(r.body()).isEqualTo(param);
        assertThat(e.get("message").asText()).isNotEmpty();
    }
}
