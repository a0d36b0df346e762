package dev.pdserve.bench;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Workloads built with the repo's real tokenizer (models/deepseek-v3-tiny). */
class DatasetTest {
    static HfPromptTokenizer tok;

    @BeforeAll
    static void load() {
        tok = HfPromptTokenizer.load(TestModels.deepseek());
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    @Test
    void tokenizerRoundTripsAndKnowsItsSpecialTokens() {
        int[] ids = tok.encode("def fibonacci(n):\n    return n");
        assertThat(ids).isNotEmpty().doesNotContain(0); // no BOS added
        assertThat(tok.decode(ids)).isEqualTo("def fibonacci(n):\n    return n");
        assertThat(tok.vocabSize()).isEqualTo(4096);
        assertThat(tok.specialIds()).contains(0, 1, 2);
        // No silent truncation (DJL's default caps at 512): long prompts keep every token.
        assertThat(tok.encode("x = 1\n".repeat(1000)).length).isGreaterThan(2000);
    }

    @Test
    void multiTurnConversationsResendTheGrowingHistoryAfterASharedSystemPrompt() {
        List<SampleRequest> r = MultiTurnDataset.sample(tok, 10, 3, 200, 20, 30, 7);
        assertThat(r).hasSize(10); // 4 conversations of 3 turns, cut at 10 requests
        // turn by turn: requests 0..3 are first turns, 4..7 second turns, 8..9 third turns
        for (int c = 0; c < 4; c++) {
            String first = r.get(c).prompt();
            String second = r.get(4 + c).prompt();
            assertThat(second).startsWith(first).contains("Assistant:");
            assertThat(r.get(4 + c).promptLen()).isGreaterThan(r.get(c).promptLen() + 30);
            if (c < 2) assertThat(r.get(8 + c).prompt()).startsWith(second);
        }
        // every conversation shares the system prompt (about 200 tokens), and nothing more
        String system = r.get(0).prompt().substring(0, r.get(0).prompt().indexOf("\nUser: ") + 1);
        assertThat(tok.encode(system).length).isBetween(190, 215);
        for (SampleRequest q : r) assertThat(q.prompt()).startsWith(system);
        assertThat(r.get(1).prompt()).isNotEqualTo(r.get(0).prompt());
        assertThat(r).allSatisfy(q -> assertThat(q.expectedOutputLen()).isEqualTo(30));
        // reproducible
        assertThat(MultiTurnDataset.sample(tok, 10, 3, 200, 20, 30, 7)).isEqualTo(r);
        assertThatThrownBy(() -> MultiTurnDataset.sample(tok, 10, 0, 200, 20, 30, 7)).hasMessageContaining("--multi-turn-turns");
    }

    @Test
    void randomPromptsHaveTheRequestedTokenCounts() {
        // The server adds a BOS: 63 text tokens make the 64 prompt tokens it sees, as vLLM's dataset counts.
        assertThat(tok.numSpecialTokensToAdd()).isEqualTo(1);
        List<SampleRequest> reqs = RandomDataset.sample(tok, 20, 64, 16, 0.0, 0, 0);
        assertThat(reqs).hasSize(20).allSatisfy(r -> {
            assertThat(r.expectedOutputLen()).isEqualTo(16);
            assertThat(r.promptLen()).isEqualTo(tok.encode(r.prompt()).length); // the count is the real one
            assertThat(r.promptLen()).isBetween(59, 67); // "about" the requested length, as vLLM
        });
        long exact = reqs.stream().filter(r -> r.promptLen() == 63).count();
        assertThat(exact).isGreaterThanOrEqualTo(15);
        assertThat(reqs.stream().map(SampleRequest::prompt).distinct().count()).isEqualTo(20);
        for (SampleRequest r : reqs) assertThat(tok.encode(r.prompt())).doesNotContain(tok.specialIds());
    }

    @Test
    void rangeRatioPrefixAndSeed() {
        List<SampleRequest> a = RandomDataset.sample(tok, 50, 40, 20, 0.5, 8, 7);
        assertThat(a).allSatisfy(r -> {
            assertThat(r.expectedOutputLen()).isBetween(10, 30);
            // The range ratio applies to the 39 tokens left after the BOS: [19, 59], plus the 8-token prefix.
            assertThat(r.promptLen()).isBetween(8 + 19 - 4, 8 + 59 + 4);
        });
        assertThat(a.stream().mapToInt(SampleRequest::expectedOutputLen).distinct().count()).isGreaterThan(5);
        // The shared prefix: every prompt starts with the same text.
        String p0 = a.get(0).prompt(), p1 = a.get(1).prompt();
        int common = 0;
        while (common < Math.min(p0.length(), p1.length()) && p0.charAt(common) == p1.charAt(common)) common++;
        assertThat(common).isGreaterThan(3);
        assertThat(RandomDataset.sample(tok, 50, 40, 20, 0.5, 8, 7)).isEqualTo(a);
        assertThat(RandomDataset.sample(tok, 50, 40, 20, 0.5, 8, 8)).isNotEqualTo(a);
        assertThatThrownBy(() -> RandomDataset.sample(tok, 5, 40, 20, 1.0, 0, 0)).hasMessageContaining("--random-range-ratio");
    }

    @Test
    void customJsonl(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("p.jsonl");
        Files.writeString(f, """
                {"prompt": "def add(a, b):", "output_tokens": 12}

                {"prompt": "import os"}
                """);
        List<SampleRequest> r = CustomDataset.sample(f, tok, 10, 256);
        assertThat(r).hasSize(2);
        assertThat(r.get(0).expectedOutputLen()).isEqualTo(12);
        assertThat(r.get(1).expectedOutputLen()).isEqualTo(256);
        assertThat(r.get(0).promptLen()).isEqualTo(tok.encode("def add(a, b):").length);
        assertThat(SampleRequest.oversample(r, 5, 0)).hasSize(5).allSatisfy(x -> assertThat(r).contains(x));

        Files.writeString(f, "{\"text\": \"x\"}\n");
        assertThatThrownBy(() -> CustomDataset.sample(f, tok, 10, 256)).hasMessageContaining("line 1").hasMessageContaining("\"prompt\"");
        Files.writeString(f, "not json\n");
        assertThatThrownBy(() -> CustomDataset.sample(f, tok, 10, 256)).hasMessageContaining("not JSON");
    }

    @Test
    void shareGptFiltersLikeVllm(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("sg.json");
        String longText = "x = 1\n".repeat(400);
        Files.writeString(f, """
                [
                 {"id": "a", "conversations": [{"from": "human", "value": "def fibonacci(n): compute it please"},
                                               {"from": "gpt", "value": "def fibonacci(n):\\n    return n if n < 2 else fibonacci(n - 1)"}]},
                 {"id": "short", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello there my friend"}]},
                 {"id": "one-turn", "conversations": [{"from": "human", "value": "only one turn here"}]},
                 {"id": "long", "conversations": [{"from": "human", "value": "%s"}, {"from": "gpt", "value": "ok ok ok ok ok"}]}
                ]
                """.formatted(longText.replace("\n", "\\n")));
        List<SampleRequest> r = ShareGptDataset.sample(f, tok, 10, null, 0);
        assertThat(r).hasSize(1);
        assertThat(r.getFirst().prompt()).startsWith("def fibonacci");
        assertThat(r.getFirst().expectedOutputLen()).isEqualTo(tok.encode("def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1)").length);
        assertThat(ShareGptDataset.sample(f, tok, 10, 3, 0).getFirst().expectedOutputLen()).isEqualTo(3);
    }

    @Test
    void allowedTokensExcludeSpecials() {
        int[] allowed = RandomDataset.allowedTokens(tok);
        assertThat(allowed.length).isEqualTo(tok.vocabSize() - tok.specialIds().length);
        assertThat(Arrays.stream(allowed).anyMatch(id -> Arrays.stream(tok.specialIds()).anyMatch(s -> s == id))).isFalse();
    }
}
