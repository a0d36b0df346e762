package dev.pdserve.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** --speculative-config read as vLLM reads it: defaults, lax numbers, clear refusals. */
class SpeculativeConfigTest {
    @Test
    void ngramWindowDefaultsAsVllm() {
        assertThat(SpeculativeConfig.parse("{\"method\":\"ngram\",\"num_speculative_tokens\":4}")).isEqualTo(SpeculativeConfig.ngram(4, 5, 5));
        assertThat(SpeculativeConfig.parse("{\"method\":\"ngram\",\"num_speculative_tokens\":4,\"prompt_lookup_max\":3}")).isEqualTo(SpeculativeConfig.ngram(4, 3, 3));
        assertThat(SpeculativeConfig.parse("{\"method\":\"ngram\",\"num_speculative_tokens\":4,\"prompt_lookup_min\":2}")).isEqualTo(SpeculativeConfig.ngram(4, 2, 2));
        assertThat(SpeculativeConfig.parse("{\"model\":\"[ngram]\",\"num_speculative_tokens\":2,\"prompt_lookup_min\":1,\"prompt_lookup_max\":4}"))
                .isEqualTo(SpeculativeConfig.ngram(2, 1, 4));
    }

    @Test
    void numbersAreCoercedTheLaxPydanticWay() {
        assertThat(SpeculativeConfig.parse("{\"method\":\"ngram\",\"num_speculative_tokens\":\"3\",\"prompt_lookup_min\":2.0,\"prompt_lookup_max\":\" 4 \"}"))
                .isEqualTo(SpeculativeConfig.ngram(3, 2, 4));
        assertThatThrownBy(() -> SpeculativeConfig.parse("{\"method\":\"ngram\",\"num_speculative_tokens\":2.5}"))
                .hasMessageContaining("'num_speculative_tokens' must be an integer, got 2.5");
        assertThatThrownBy(() -> SpeculativeConfig.parse("{\"method\":\"ngram\",\"num_speculative_tokens\":\"four\"}"))
                .hasMessageContaining("'num_speculative_tokens' must be an integer");
    }

    @Test
    void mtpTakesTheCheckpointsLayerCountWhenNotGiven() {
        SpeculativeConfig c = SpeculativeConfig.parse("{\"method\":\"deepseek_mtp\"}");
        assertThat(c.numSpeculativeTokens()).isEqualTo(SpeculativeConfig.UNSET);
        assertThat(c.resolve(1)).isEqualTo(SpeculativeConfig.mtp(1));
        assertThat(SpeculativeConfig.parse("{\"method\":\"mtp\",\"num_speculative_tokens\":2}").resolve(1)).isEqualTo(SpeculativeConfig.mtp(2));
        assertThatThrownBy(() -> c.resolve(0)).hasMessageContaining("num_nextn_predict_layers");
        assertThat(SpeculativeConfig.mtp(2).toJson()).isEqualTo("{\"method\":\"deepseek_mtp\",\"num_speculative_tokens\":2}");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "[1]|must be a JSON object",
            "{|is not valid JSON",
            "{\"num_speculative_tokens\":2}|needs \"method\"",
            "{\"method\":\"eagle\",\"num_speculative_tokens\":2}|'eagle' is a vLLM method pdserve does not run",
            "{\"method\":\"magic\",\"num_speculative_tokens\":2}|'magic' is not a speculative method",
            "{\"method\":\"ngram\"}|'num_speculative_tokens' is required",
            "{\"method\":\"ngram\",\"num_speculative_tokens\":0}|must be greater than 0",
            "{\"method\":\"ngram\",\"num_speculative_tokens\":99}|must be in [1, 16]",
            "{\"method\":\"ngram\",\"num_speculative_tokens\":2,\"prompt_lookup_min\":4,\"prompt_lookup_max\":2}|prompt_lookup_min=4 must be <= prompt_lookup_max=2",
            "{\"method\":\"ngram\",\"num_speculative_tokens\":2,\"prompt_lookup_min\":0}|'prompt_lookup_min' must be at least 1",
            "{\"method\":\"ngram\",\"num_speculative_tokens\":2,\"lookahead\":3}|unknown field 'lookahead'",
            "{\"method\":\"deepseek_mtp\",\"prompt_lookup_max\":3}|belong to method ngram",
            "{\"method\":7,\"num_speculative_tokens\":2}|'method' must be a string",
    })
    void badConfigsAreRefusedNamingTheField(String json, String message) {
        assertThatThrownBy(() -> SpeculativeConfig.parse(json)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--speculative-config").hasMessageContaining(message);
    }

    @Test
    void draftModelFieldsAreAcceptedAndIgnored() {
        String json = "{\"method\":\"ngram\",\"num_speculative_tokens\":2,\"draft_tensor_parallel_size\":1,\"disable_log_stats\":false}";
        assertThat(SpeculativeConfig.parse(json)).isEqualTo(SpeculativeConfig.ngram(2, 5, 5));
        assertThat(SpeculativeConfig.ignoredFields(json)).containsExactly("draft_tensor_parallel_size", "disable_log_stats");
    }
}
