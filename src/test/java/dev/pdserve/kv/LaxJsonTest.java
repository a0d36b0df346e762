package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** pydantic's lax mode, value by value (its conversion table: docs.pydantic.dev/latest/concepts/conversion_table). */
class LaxJsonTest {
    private static JsonNode j(String json) throws Exception {
        return new ObjectMapper().readTree(json);
    }

    @Test
    void integers() throws Exception {
        for (String ok : new String[]{"20001", "\"20001\"", "\" 20001 \"", "\"+20001\"", "\"20_001\"", "20001.0", "\"20001.00\""}) {
            assertThat(LaxJson.integer(j(ok), "kv_port")).as(ok).isEqualTo(20001);
        }
        assertThat(LaxJson.integer(j("true"), "n")).isEqualTo(1);
        assertThat(LaxJson.integer(j("\"-3\""), "n")).isEqualTo(-3);
        for (String bad : new String[]{"\"abc\"", "\"1.5\"", "\"\"", "\"1__0\"", "\"0x10\"", "[1]", "{}", "\"1e3\""}) {
            assertThatThrownBy(() -> LaxJson.integer(j(bad), "kv_port")).as(bad)
                    .hasMessageStartingWith("field 'kv_port' must be an integer");
        }
        assertThatThrownBy(() -> LaxJson.integer(j("1.5"), "x")).hasMessage("field 'x' must be an integer (got a number with a fractional part), got 1.5");
        assertThatThrownBy(() -> LaxJson.integer(j("\"99999999999999999999\""), "x")).hasMessageContaining("fits in 64 bits");
        assertThatThrownBy(() -> LaxJson.integer(j("\"70000\""), "kv_port", 0, 65535)).hasMessage("field 'kv_port' must be in [0, 65535], got 70000");
    }

    @Test
    void bools() throws Exception {
        for (String t : new String[]{"true", "1", "1.0", "\"true\"", "\"True\"", "\"1\"", "\"yes\"", "\"on\"", "\"t\"", "\"y\"", "\"YES\""}) {
            assertThat(LaxJson.bool(j(t), "enabled")).as(t).isTrue();
        }
        for (String f : new String[]{"false", "0", "\"false\"", "\"0\"", "\"no\"", "\"off\"", "\"f\"", "\"n\"", "\"Off\""}) {
            assertThat(LaxJson.bool(j(f), "enabled")).as(f).isFalse();
        }
        for (String bad : new String[]{"2", "\"maybe\"", "\"\"", "null", "[true]", "\" true\""}) {
            assertThatThrownBy(() -> LaxJson.bool(j(bad), "torchair_graph_config.enabled")).as(bad)
                    .hasMessageStartingWith("field 'torchair_graph_config.enabled' must be a boolean");
        }
    }

    @Test
    void numbersAndStrings() throws Exception {
        assertThat(LaxJson.number(j("\"2.5\""), "x")).isEqualTo(2.5);
        assertThat(LaxJson.number(j("\"1e9\""), "x")).isEqualTo(1e9);
        assertThat(LaxJson.number(j("\".5\""), "x")).isEqualTo(0.5);
        assertThat(LaxJson.number(j("3"), "x")).isEqualTo(3);
        assertThat(LaxJson.number(j("false"), "x")).isZero();
        assertThat(LaxJson.number(j("\"-inf\""), "x")).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> LaxJson.number(j("\"fast\""), "x")).hasMessage("field 'x' must be a number, got \"fast\"");
        assertThat(LaxJson.string(j("\"0\""), "engine_id")).isEqualTo("0");
        assertThatThrownBy(() -> LaxJson.string(j("0"), "engine_id")).hasMessage("field 'engine_id' must be a string, got 0");
    }
}
