package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import dev.pdserve.structured.SchemaValidator;
import dev.pdserve.structured.ServedSchemas;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Structured output through PD disaggregation with real processes (prefill serve, decode serve,
 * proxy): the constraint travels in the body, both instances compile it, the decode instance masks
 * every token it samples and the prefill instance its one token. The fifty schemas of
 * {@link ServedSchemas} all validate through the proxy; streaming too; a bad schema is the
 * prefill's 400, passed on by the proxy.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestLogs.class)
class PdStructuredOutputTest {
    private final Path logs = TestLogs.dir(PdStructuredOutputTest.class);
    private final List<PdInstance> all = new ArrayList<>();
    private PdInstance prefill, decode, proxy;

    @BeforeAll
    void start() throws Exception {
        Path token = Files.createTempFile("pd-token", ".txt");
        Files.writeString(token, "structured-token\n");
        String kv = "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"%s\",\"kv_port\":0,\"kv_connector_extra_config\":{\"cluster_token_file\":\"" + token + "\"}}";
        prefill = add(PdInstance.serve("so-prefill", logs, TestModels.deepseek(), kv.formatted("kv_producer")));
        decode = add(PdInstance.serve("so-decode", logs, TestModels.deepseek(), kv.formatted("kv_consumer")));
        prefill.awaitServe();
        decode.awaitServe();
        proxy = add(PdInstance.proxy("so-proxy", logs, List.of(prefill), List.of(decode)));
    }

    private PdInstance add(PdInstance i) {
        all.add(i);
        return i;
    }

    @AfterAll
    void stop() { all.forEach(PdInstance::close); }

    @AfterEach
    void noBlockLeft() throws Exception {
        prefill.awaitIdle();
        decode.awaitIdle();
    }

    @Test
    void fiftySchemasValidateThroughTheProxy() throws Exception {
        List<ObjectNode> schemas = ServedSchemas.all();
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            for (int i = 0; i < schemas.size(); i++) {
                String body = ServedSchemas.chatRequest(i, schemas.get(i)).toString();
                answers.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return proxy.post("/v1/chat/completions", body);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }, pool));
            }
        }
        for (int i = 0; i < schemas.size(); i++) {
            HttpResponse<String> r = answers.get(i).join();
            assertThat(r.statusCode()).as("schema %d: %s", i, r.body()).isEqualTo(200);
            JsonNode choice = PdInstance.JSON.readTree(r.body()).at("/choices/0");
            assertThat(choice.get("finish_reason").asText()).as("schema %d: %s", i, r.body()).isEqualTo("stop");
            String content = choice.at("/message/content").asText();
            assertThat(new SchemaValidator(schemas.get(i)).errors(content)).as("schema %d output %s", i, content).isEmpty();
        }
    }

    @Test
    void streamingThroughTheProxy() throws Exception {
        ObjectNode schema = ServedSchemas.schema(11);
        HttpResponse<String> r = proxy.post("/v1/chat/completions", ServedSchemas.chatRequest(1, schema).put("stream", true).toString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<String> events = PdInstance.events(r.body());
        assertThat(events.getLast()).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode c = PdInstance.JSON.readTree(e).at("/choices/0");
            text.append(c.at("/delta/content").asText(""));
            if (c.has("finish_reason") && !c.get("finish_reason").isNull()) finish = c.get("finish_reason").asText();
        }
        assertThat(finish).isEqualTo("stop");
        assertThat(new SchemaValidator(schema).errors(text.toString())).as(text.toString()).isEmpty();
    }

    @Test
    void thePrefillTokenObeysTheConstraintToo() throws Exception {
        // What the proxy does, by hand: the prefill's one token is masked as well, then decode continues.
        String regex = "zq(x|y){2,5}";
        String prompt = "{\"model\":\"tiny\",\"prompt\":\"letters:\",\"temperature\":0,\"guided_regex\":\"" + regex + "\"";
        JsonNode p = prefill.postJson("/v1/completions", prompt + ",\"max_tokens\":1,\"min_tokens\":1,\"kv_transfer_params\":{\"do_remote_decode\":true}}");
        assertThat(p.at("/choices/0/text").asText()).matches("z(q[xy]{0,5})?");
        JsonNode d = decode.postJson("/v1/completions", prompt + ",\"max_tokens\":20,\"kv_transfer_params\":" + p.get("kv_transfer_params") + "}");
        assertThat(d.at("/choices/0/text").asText()).matches(regex);
        assertThat(d.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void aBadSchemaIsA400ThroughTheProxy() throws Exception {
        HttpResponse<String> r = proxy.post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"guided_json\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strin\"}}}}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(PdInstance.JSON.readTree(r.body()).at("/error/param").asText()).isEqualTo("guided_json");
    }
}
