package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.TestModels;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;

/** /tokenize and /detokenize over the real DeepSeek-V3 tiny tokenizer give transformers' ids and text back. */
class TokenizeEndpointTest {
    @Test
    void tokenizeMatchesTheReferenceIds() throws Exception {
        ScriptedEngine engine = new ScriptedEngine(1024, 1);
        try (Tokenizer tokenizer = Tokenizer.load(TestModels.deepseek());
             OpenAiServer server = new OpenAiServer(engine, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("tiny")).start()) {
            Http http = new Http(server.port());
            JsonNode ref = Http.JSON.readTree(Files.readString(TestModels.deepseek().resolve("reference.json"))).get("prompts").get(0);
            JsonNode tok = Http.json(http.post("/tokenize", Http.JSON.createObjectNode().put("prompt", ref.get("prompt").asText()).toString()));
            assertThat(tok.get("tokens")).isEqualTo(ref.get("input_ids"));
            JsonNode back = Http.json(http.post("/detokenize", Http.JSON.createObjectNode().set("tokens", ref.get("input_ids")).toString()));
            assertThat(back.get("prompt").asText()).isEqualTo("<｜begin▁of▁sentence｜>" + ref.get("prompt").asText());

            JsonNode chat = Http.json(http.post("/tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
            int[] expected = tokenizer.encode("<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>", false);
            assertThat(chat.get("count").asInt()).isEqualTo(expected.length);
            assertThat(chat.get("tokens").get(0).asInt()).isEqualTo(tokenizer.bosTokenId());
        } finally {
            engine.close();
        }
    }
}
