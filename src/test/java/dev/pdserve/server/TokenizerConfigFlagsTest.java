package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * tokenizer_config.json's {@code add_bos_token}, {@code add_eos_token} and
 * {@code clean_up_tokenization_spaces}, as transformers reads them, over real HTTP (/tokenize,
 * /detokenize and completions' prompts). The tokenizers are the golden one's with the config (and
 * the post-processor) changed. What transformers does, from its source: LlamaTokenizerFast and
 * GemmaTokenizerFast rebuild the post-processor from add_bos_token (default true) and
 * add_eos_token (default false) in {@code update_post_processor}; {@code decode} runs
 * {@code clean_up_tokenization} when the flag is set.
 */
class TokenizerConfigFlagsTest {
    @TempDir Path tmp;

    /** The golden tokenizer, with tokenizer.json's post-processor dropped or kept and the config edited. */
    private Path tokenizer(String name, boolean keepPostProcessor, Consumer<ObjectNode> config) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        ObjectNode tj = (ObjectNode) Http.JSON.readTree(Files.readString(TestModels.deepseek().resolve("tokenizer.json")));
        if (!keepPostProcessor) tj.putNull("post_processor"); // as DeepSeek-V3's own tokenizer.json: no BOS from it
        Files.writeString(dir.resolve("tokenizer.json"), tj.toString());
        ObjectNode tc = (ObjectNode) Http.JSON.readTree(Files.readString(TestModels.deepseek().resolve("tokenizer_config.json")));
        config.accept(tc);
        Files.writeString(dir.resolve("tokenizer_config.json"), tc.toString());
        return dir;
    }

    private static JsonNode tokenize(Path dir, String prompt) throws Exception {
        ScriptedEngine engine = new ScriptedEngine(1024, 1);
        try (Tokenizer t = Tokenizer.load(dir);
             OpenAiServer server = new OpenAiServer(engine, TextCodec.of(t), OpenAiServer.Options.loopback("tiny")).start()) {
            return Http.json(new Http(server.port()).post("/tokenize", Http.JSON.createObjectNode().put("prompt", prompt).toString())).get("tokens");
        } finally {
            engine.close();
        }
    }

    private static int[] ids(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    @Test
    void addBosTokenPrependsBosWhereThePostProcessorDoesNot() throws Exception {
        String text = "how is it today";
        int[] plain;
        try (Tokenizer golden = Tokenizer.load(TestModels.deepseek())) {
            plain = golden.encode(text, false);
            assertThat(golden.encode(text, true)[0]).isEqualTo(golden.bosTokenId()); // the golden post-processor adds it
        }
        // DeepSeek-V3's case: LlamaTokenizerFast, add_bos_token true, a post-processor without BOS.
        int[] got = ids(tokenize(tokenizer("llama-bos", false, c -> { }), text));
        assertThat(got[0]).isZero();
        assertThat(java.util.Arrays.copyOfRange(got, 1, got.length)).containsExactly(plain);
        // Another class that says add_bos_token: true gets it too; saying nothing leaves the post-processor's choice.
        assertThat(ids(tokenize(tokenizer("other-bos", false, c -> c.put("tokenizer_class", "PreTrainedTokenizerFast")), text))[0]).isZero();
        assertThat(ids(tokenize(tokenizer("other-none", false, c -> c.put("tokenizer_class", "PreTrainedTokenizerFast").remove("add_bos_token")), text)))
                .containsExactly(plain);
        // Llama's rebuilt post-processor: no BOS when add_bos_token is false (even though tokenizer.json adds one), EOS when asked.
        assertThat(ids(tokenize(tokenizer("llama-nobos", true, c -> c.put("add_bos_token", false)), text))).containsExactly(plain);
        int[] withEos = ids(tokenize(tokenizer("llama-eos", true, c -> c.put("add_eos_token", true)), text));
        assertThat(withEos[0]).isZero();
        assertThat(withEos[withEos.length - 1]).isEqualTo(1);
        assertThat(withEos).hasSize(plain.length + 2);
    }

    /** Completions' prompts go through the same encode (the scripted engine's vocabulary is too small to take them over HTTP). */
    @Test
    void completionsPromptsGetTheBosToo() throws Exception {
        try (Tokenizer t = Tokenizer.load(tokenizer("llama-bos-completions", false, c -> { }))) {
            RequestParser parser = new RequestParser("tiny", TextCodec.of(t));
            int[] prompt = parser.parseCompletion((ObjectNode) Http.JSON.readTree("{\"prompt\":\"hi\"}")).prompts().getFirst();
            assertThat(prompt[0]).isZero();
            int[] bare = parser.parseCompletion((ObjectNode) Http.JSON.readTree("{\"prompt\":\"hi\",\"add_special_tokens\":false}")).prompts().getFirst();
            assertThat(bare).containsExactly(t.encode("hi", false));
        }
    }

    @Test
    void cleanUpTokenizationSpacesAppliesOnDecode() throws Exception {
        String text = "Hello , world . It 's done ! Is it ? I 'm sure they 're n't";
        for (boolean clean : new boolean[] {true, false}) {
            Path dir = tokenizer("clean-" + clean, true, c -> c.put("clean_up_tokenization_spaces", clean));
            ScriptedEngine engine = new ScriptedEngine(1024, 1);
            try (Tokenizer t = Tokenizer.load(dir);
                 OpenAiServer server = new OpenAiServer(engine, TextCodec.of(t), OpenAiServer.Options.loopback("tiny")).start()) {
                ObjectNode body = Http.JSON.createObjectNode();
                int[] ids = t.encode(text, false);
                for (int id : ids) body.withArray("tokens").add(id);
                String back = Http.json(new Http(server.port()).post("/detokenize", body.toString())).get("prompt").asText();
                assertThat(back).isEqualTo(clean ? "Hello, world. It's done! Is it? I'm sure they'ren't" : text);
            } finally {
                engine.close();
            }
        }
    }
}
