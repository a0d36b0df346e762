package dev.pdserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `pdserve generate` end to end, in process, against transformers' greedy tokens. */
class GenerateCommandTest {
    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.commandLine();
            cl.setErr(new PrintWriter(err, true));
            int exit = cl.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void jsonGreedyOutputIsTransformersGreedyTokens() throws Exception {
        for (Path model : new Path[] {TestModels.llama(), TestModels.deepseek()}) {
            JsonNode prompt = new ObjectMapper().readTree(model.resolve("reference.json").toFile()).get("prompts").get(0);
            StringBuilder ids = new StringBuilder();
            for (JsonNode id : prompt.get("input_ids")) ids.append(ids.isEmpty() ? "" : ",").append(id.asInt());
            Run r = run("generate", "--model", model.toString(), "--prompt-ids", ids.toString(), "--max-tokens", "40", "--json");
            assertThat(r.exit()).as(r.err()).isZero();
            JsonNode json = new ObjectMapper().readTree(r.out());
            assertThat(json.get("prompt_ids")).isEqualTo(prompt.get("input_ids"));
            // Free-running greedy equals the reference up to the first near-tie step (margin < 2e-3), where either token is right.
            for (int step = 0; step < 40; step++) {
                int ours = json.get("output_ids").get(step).asInt();
                if (prompt.get("greedy_margins").get(step).asDouble() < 2e-3) {
                    JsonNode top2 = prompt.get("greedy_step_top2").get(step).get(0);
                    assertThat(ours).isIn(top2.get(0).asInt(), top2.get(1).asInt());
                    break;
                }
                assertThat(ours).as("%s step %d", model.getFileName(), step).isEqualTo(prompt.get("greedy_ids").get(step).asInt());
            }
            JsonNode top5 = json.get("top5");
            assertThat(top5).hasSize(40);
            assertThat(top5.get(0)).hasSize(5);
            assertThat(top5.get(0).get(0).get(0).asInt()).isEqualTo(json.get("output_ids").get(0).asInt());
            assertThat(top5.get(0).get(0).get(1).asDouble()).isLessThanOrEqualTo(0.0);
        }
    }

    @Test
    void textPromptAndChatUseTheTokenizerAndTemplate() throws Exception {
        Run text = run("generate", "--model", TestModels.deepseek().toString(), "--prompt", "def main():", "--max-tokens", "5", "--json");
        assertThat(text.exit()).as(text.err()).isZero();
        JsonNode t = new ObjectMapper().readTree(text.out());
        assertThat(t.get("prompt_ids").get(0).asInt()).isZero(); // BOS
        assertThat(t.get("output_ids")).hasSize(5);
        Run chat = run("generate", "--model", TestModels.llama().toString(), "--chat", "hello", "--max-tokens", "3", "--json");
        assertThat(chat.exit()).as(chat.err()).isZero();
        JsonNode c = new ObjectMapper().readTree(chat.out());
        JsonNode ids = c.get("prompt_ids");
        assertThat(ids.get(0).asInt()).isZero();
        assertThat(ids.get(1).asInt()).isEqualTo(3); // <｜User｜>
        assertThat(ids.get(ids.size() - 1).asInt()).isEqualTo(4); // <｜Assistant｜>
    }

    @Test
    void seededSamplingIsReproducible() {
        String[] args = {"generate", "--model", TestModels.llama().toString(), "--prompt", "import os", "--max-tokens", "12",
                "--temperature", "0.9", "--top-p", "0.9", "--top-k", "50", "--seed", "7", "--json"};
        Run a = run(args), b = run(args);
        assertThat(a.exit()).isZero();
        assertThat(a.out()).isEqualTo(b.out());
    }

    @Test
    void badInputsGiveClearErrors() {
        Run missing = run("generate", "--model", "/nonexistent/model", "--prompt", "x");
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).contains("model folder /nonexistent/model does not exist");
        Run noPrompt = run("generate", "--model", TestModels.llama().toString());
        assertThat(noPrompt.exit()).isEqualTo(2);
        assertThat(noPrompt.err()).contains("--prompt");
        Run badId = run("generate", "--model", TestModels.llama().toString(), "--prompt-ids", "0,99999", "--max-tokens", "2");
        assertThat(badId.exit()).isEqualTo(1);
        assertThat(badId.err()).contains("99999");
    }
}
