package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The request fields vLLM takes for structured output, and their errors. */
class StructuredOutputRequestTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}";

    private static StructuredOutputRequest.Parsed parse(String body) throws Exception { return StructuredOutputRequest.parse(JSON.readTree(body)); }

    @Test
    void everyFormGivesItsConstraint() throws Exception {
        assertThat(parse("{\"prompt\":\"x\"}")).isNull();
        assertThat(parse("{\"response_format\":{\"type\":\"text\"}}")).isNull();
        assertThat(parse("{\"response_format\":{\"type\":\"json_object\"}}").constraint()).isEqualTo(Constraint.jsonObject());
        JsonNode schema = JSON.readTree(SCHEMA);
        var p = parse("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":" + SCHEMA + ",\"strict\":true}}}");
        assertThat(p.constraint()).isEqualTo(Constraint.jsonSchema(schema));
        assertThat(p.param()).isEqualTo("response_format");
        assertThat(parse("{\"guided_json\":" + SCHEMA + "}").constraint()).isEqualTo(Constraint.jsonSchema(schema));
        assertThat(parse("{\"guided_json\":" + JSON.writeValueAsString(SCHEMA) + "}").constraint()).isEqualTo(Constraint.jsonSchema(schema));
        assertThat(parse("{\"guided_regex\":\"a+\"}").constraint()).isEqualTo(Constraint.regex("a+"));
        assertThat(parse("{\"guided_choice\":[\"x\",\"y\"]}").constraint()).isEqualTo(Constraint.choice(List.of("x", "y")));
        assertThat(parse("{\"guided_grammar\":\"root ::= \\\"a\\\"\"}").constraint()).isEqualTo(Constraint.grammar("root ::= \"a\""));
        assertThat(parse("{\"structured_outputs\":{\"json\":" + SCHEMA + "}}").constraint()).isEqualTo(Constraint.jsonSchema(schema));
        assertThat(parse("{\"structured_outputs\":{\"regex\":\"a+\"}}").constraint()).isEqualTo(Constraint.regex("a+"));
        assertThat(parse("{\"structured_outputs\":{\"choice\":[\"x\"]}}").constraint()).isEqualTo(Constraint.choice(List.of("x")));
        assertThat(parse("{\"structured_outputs\":{\"grammar\":\"root ::= \\\"a\\\"\"}}").constraint()).isEqualTo(Constraint.grammar("root ::= \"a\""));
        assertThat(parse("{\"structured_outputs\":{\"json_object\":true}}").constraint()).isEqualTo(Constraint.jsonObject());
        assertThat(parse("{\"response_format\":null,\"guided_regex\":null,\"structured_outputs\":null}")).isNull();
    }

    @Test
    void optionsComeAlong() throws Exception {
        Constraint c = parse("{\"structured_outputs\":{\"json\":" + SCHEMA + ",\"disable_any_whitespace\":true,\"disable_additional_properties\":true}}").constraint();
        assertThat(c.disableAnyWhitespace()).isTrue();
        assertThat(c.disableAdditionalProperties()).isTrue();
        assertThat(parse("{\"guided_json\":" + SCHEMA + ",\"guided_whitespace_pattern\":\"[ ]?\"}").constraint().whitespacePattern()).isEqualTo("[ ]?");
        assertThat(parse("{\"response_format\":{\"type\":\"json_object\"},\"guided_decoding_backend\":\"xgrammar\"}").constraint()).isEqualTo(Constraint.jsonObject());
    }

    @Test
    void toJsonRoundTrips() throws Exception {
        for (Constraint c : List.of(Constraint.jsonSchema(JSON.readTree(SCHEMA)), Constraint.jsonObject(), Constraint.regex("\\d+"),
                Constraint.choice(List.of("a", "b\"c")), Constraint.grammar("root ::= [a-z]+"),
                new Constraint(Constraint.Kind.JSON_OBJECT, "", true, "[ ]{0,2}", true))) {
            JsonNode body = JSON.createObjectNode().set("structured_outputs", c.toJson());
            assertThat(StructuredOutputRequest.parse(body).constraint()).isEqualTo(c);
        }
    }

    @Test
    void badRequestsNameTheirField() {
        refused("{\"response_format\":{\"type\":\"json_object\"},\"guided_regex\":\"a\"}", "guided_regex", "only one kind");
        refused("{\"structured_outputs\":{\"regex\":\"a\",\"choice\":[\"b\"]}}", "structured_outputs", "exactly one");
        refused("{\"structured_outputs\":{}}", "structured_outputs", "no constraint");
        refused("{\"structured_outputs\":{\"structural_tag\":\"{}\"}}", "structured_outputs", "structural_tag");
        refused("{\"response_format\":{\"type\":\"json_schema\"}}", "response_format", "json_schema object");
        refused("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}", "response_format", "needs a schema");
        refused("{\"response_format\":{\"type\":\"yaml\"}}", "response_format", "'text', 'json_object' or 'json_schema'");
        refused("{\"response_format\":{\"type\":\"structural_tag\"}}", "response_format", "not supported");
        refused("{\"guided_choice\":\"x\"}", "guided_choice", "non-empty array");
        refused("{\"guided_choice\":[1]}", "guided_choice", "only strings");
        refused("{\"guided_regex\":5}", "guided_regex", "must be a string");
        refused("{\"guided_json\":\"{not json\"}", "guided_json", "not valid JSON");
        refused("{\"guided_json\":[1]}", "guided_json", "must be an object");
        refused("{\"guided_json\":{},\"guided_whitespace_pattern\":\"(\"}", "whitespace_pattern", "missing ')'");
    }

    @Test
    void compileErrorsCarryTheParsedField() throws Exception {
        var p = parse("{\"guided_regex\":\"(a\"}");
        assertThat(p.param()).isEqualTo("guided_regex");
        assertThatThrownBy(() -> StructuredFixtures.compile(StructuredFixtures.tiny(), p.constraint())).isInstanceOf(ConstraintException.class)
                .hasMessageContaining("missing ')'");
    }

    private static void refused(String body, String param, String message) {
        assertThatThrownBy(() -> parse(body)).as(body).isInstanceOf(ConstraintException.class).hasMessageContaining(message)
                .satisfies(e -> assertThat(((ConstraintException) e).param()).isEqualTo(param));
    }
}
