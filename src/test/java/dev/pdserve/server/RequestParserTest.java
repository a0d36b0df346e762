package dev.pdserve.server;

import dev.pdserve.http.ApiException;
import dev.pdserve.http.HttpEdge;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** JSON to ApiRequest, without HTTP. */
class RequestParserTest {
    final RequestParser parser = new RequestParser("tiny", new CharCodec());

    ApiRequest completion(String json) {
        return parser.parseCompletion(HttpEdge.jsonObject(json.getBytes(StandardCharsets.UTF_8)));
    }

    ApiRequest chat(String json) {
        return parser.parseChat(HttpEdge.jsonObject(json.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void kvTransferParamsPassThroughEveryKindOfRequest() {
        String kv = "\"kv_transfer_params\":{\"do_remote_prefill\":true,\"remote_block_ids\":[1,2]}";
        for (ApiRequest r : new ApiRequest[] {
                completion("{\"prompt\":\"a\"," + kv + "}"),
                completion("{\"prompt\":\"a\",\"stream\":true," + kv + "}"),
                chat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]," + kv + "}"),
                chat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stream\":true," + kv + "}")}) {
            assertThat(r.kvTransferParams().get("do_remote_prefill").asBoolean()).isTrue();
            assertThat(r.kvTransferParams().get("remote_block_ids").toString()).isEqualTo("[1,2]");
        }
        assertThat(completion("{\"prompt\":\"a\"}").kvTransferParams()).isNull();
        assertThatThrownBy(() -> completion("{\"prompt\":\"a\",\"kv_transfer_params\":5}")).isInstanceOf(ApiException.class)
                .hasMessageContaining("kv_transfer_params");
    }

    @Test
    void defaultsFollowVllm() {
        ApiRequest r = completion("{\"prompt\":\"abc\"}");
        assertThat(r.prompts().getFirst()).containsExactly(CharCodec.BOS, 'a', 'b', 'c');
        assertThat(r.samplingFor(4, 128).maxTokens()).isEqualTo(16);
        assertThat(r.samplingFor(120, 128).maxTokens()).isEqualTo(8);
        assertThat(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}").samplingFor(4, 128).maxTokens()).isEqualTo(124);
        assertThat(r.sampling().temperature()).isEqualTo(1.0);
        assertThat(r.sampling().skipSpecialTokens()).isTrue();
        assertThat(r.n()).isEqualTo(1);
        assertThat(r.logprobs()).isNull();
        // Chat prompts get no BOS from the encoder: the template writes what the model needs.
        assertThat(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}").prompts().getFirst()[0]).isEqualTo('[');
        assertThat(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":5,\"max_completion_tokens\":7}").maxTokens()).isEqualTo(7);
        assertThat(completion("{\"prompt\":\"a\",\"top_k\":-1}").sampling().topK()).isZero();
        assertThat(completion("{\"prompt\":\"a\",\"stop\":\"x\"}").sampling().stop()).containsExactly("x");
    }

    @Test
    void theParserChecksShapesAndLeavesTheValuesToTheEngine() {
        // Values go through as sent: the engine's one rule set answers them at submit (SamplingParamsTest).
        ApiRequest r = completion("{\"prompt\":\"a\",\"min_tokens\":5,\"max_tokens\":2,\"stop_token_ids\":[300]}");
        assertThat(r.samplingFor(2, 128).minTokens()).isEqualTo(5);
        assertThat(r.sampling().stopTokenIds()).containsExactly(300);
        assertThatThrownBy(() -> r.samplingFor(2, 128).validate(4096)).hasMessage("min_tokens must be less than or equal to max_tokens=2, got 5.");
        assertThat(completion("{\"prompt\":\"a\",\"repetition_penalty\":0}").sampling().repetitionPenalty()).isZero();
        assertThatThrownBy(() -> completion("{\"prompt\":\"a\",\"stop_token_ids\":[\"x\"]}")).hasMessageContaining("stop_token_ids");
        assertThatThrownBy(() -> completion("{\"prompt\":\"a\",\"echo\":1}")).hasMessageContaining("echo");
        // Echo with logprobs scores the prompt as well, with as many alternatives (vLLM).
        assertThat(completion("{\"prompt\":\"a\",\"echo\":true,\"logprobs\":2}").sampling().promptLogprobs()).isEqualTo(2);
        assertThat(completion("{\"prompt\":\"a\",\"logprobs\":2}").sampling().promptLogprobs()).isNull();
        assertThat(completion("{\"prompt\":\"a\"}").samplingFor(2, 128).maxTokens()).isEqualTo(16);
        ApiException e = (ApiException) org.assertj.core.api.Assertions.catchThrowable(() -> completion("{\"prompt\":\"a\",\"seed\":\"x\"}"));
        assertThat(e.status).isEqualTo(400);
        assertThat(e.param).isEqualTo("seed");
    }
}
