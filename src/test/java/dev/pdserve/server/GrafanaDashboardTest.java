package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * examples/grafana/pdserve-vllm-dashboard.json reads only what a real server exposes: every series its
 * PromQL names is a sample of a real pdserve's /metrics (tiny model, after one request), carrying the
 * {@code model_name} label its panels filter on.
 */
class GrafanaDashboardTest {
    private static final Pattern SERIES = Pattern.compile("vllm:[A-Za-z0-9_:]+");

    @Test
    void everySeriesThePanelsQueryIsExposed() throws Exception {
        Path file = TestModels.repo().resolve("examples/grafana/pdserve-vllm-dashboard.json");
        JsonNode dashboard = Http.JSON.readTree(Files.readString(file));
        Set<String> queried = new TreeSet<>();
        int panels = 0;
        for (JsonNode panel : dashboard.get("panels")) {
            panels++;
            assertThat(panel.get("targets")).as(panel.get("title").asText()).isNotEmpty();
            for (JsonNode t : panel.get("targets")) {
                String expr = t.get("expr").asText();
                assertThat(expr).as("panels filter on $model_name").contains("model_name=\"$model_name\"");
                Matcher m = SERIES.matcher(expr);
                while (m.find()) queried.add(m.group());
            }
        }
        assertThat(panels).isGreaterThanOrEqualTo(12);
        assertThat(queried).hasSizeGreaterThan(20);

        try (CausalLM model = ModelLoader.load(TestModels.deepseek(), new LoadOptions(1, null));
             Tokenizer tokenizer = Tokenizer.load(TestModels.deepseek());
             Engine engine = new Engine(model, tokenizer, EngineConfig.defaults(512).withKvCacheBytes(16L << 20).withMaxNumSeqs(8));
             OpenAiServer server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("dash")).start()) {
            Http http = new Http(server.port());
            assertThat(http.post("/v1/completions", "{\"prompt\":\"hello\",\"max_tokens\":4}").statusCode()).isEqualTo(200);
            PromText exposed = PromText.parse(http.get("/metrics").body());
            for (String series : queried) {
                assertThat(exposed.has(series)).as(series + " is exposed").isTrue();
                assertThat(exposed.samples().stream().filter(s -> s.name().equals(series)))
                        .allSatisfy(s -> assertThat(s.labels()).containsEntry("model_name", "dash").containsEntry("engine", "0"));
            }
        }
    }
}
