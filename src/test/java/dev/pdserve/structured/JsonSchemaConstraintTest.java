package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Random walks through JSON schemas: every finished output parses and validates (networknt). */
class JsonSchemaConstraintTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static List<String> schemas() {
        return List.of(
                "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150}},\"required\":[\"name\",\"age\"]}",
                // nested: objects, arrays, enums, numbers, required fields, string patterns
                """
                {"type":"object","properties":{
                  "id":{"type":"string","pattern":"^[A-Z]{2}-[0-9]{3}$"},
                  "status":{"enum":["active","inactive","pending"]},
                  "score":{"type":"number","minimum":0,"maximum":10},
                  "tags":{"type":"array","items":{"type":"string","maxLength":6},"minItems":1,"maxItems":3},
                  "owner":{"type":"object","properties":{"login":{"type":"string","minLength":1,"maxLength":8},"admin":{"type":"boolean"}},"required":["login"]},
                  "note":{"type":["string","null"],"maxLength":10}},
                 "required":["id","status","tags","owner"]}""",
                "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"exclusiveMinimum\":-5,\"exclusiveMaximum\":1000},\"maxItems\":6}",
                "{\"type\":\"number\",\"exclusiveMinimum\":-2,\"maximum\":3}",
                "{\"type\":\"number\"}",
                "{\"type\":\"integer\",\"minimum\":-120,\"maximum\":-7}",
                "{\"const\":{\"a\":[1,2,{\"b\":null}]}}",
                "{\"enum\":[\"x\\\"y\",\"line\\nbreak\",3.5,true,null,[1]]}",
                "{\"anyOf\":[{\"type\":\"string\",\"format\":\"date\"},{\"type\":\"string\",\"format\":\"uuid\"},{\"type\":\"integer\"}]}",
                "{\"type\":\"string\",\"format\":\"date-time\"}",
                "{\"type\":\"string\",\"format\":\"email\"}",
                "{\"type\":\"string\",\"format\":\"ipv4\"}",
                "{\"type\":\"string\",\"pattern\":\"(caf\u00e9|\u65e5\u672c|\\\"q\\\"|a\\\\\\\\b)+\"}",
                "{\"type\":\"string\",\"minLength\":3,\"maxLength\":5}",
                "{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"kind\":{\"const\":\"circle\"},\"r\":{\"type\":\"number\"}},\"required\":[\"kind\",\"r\"]},"
                        + "{\"type\":\"object\",\"properties\":{\"kind\":{\"const\":\"square\"},\"side\":{\"type\":\"number\"}},\"required\":[\"kind\",\"side\"]}]}",
                // recursion through $defs: a tree of nodes
                "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"},\"maxItems\":2}},\"required\":[\"v\"]}},\"$ref\":\"#/$defs/node\"}",
                // recursion to the root
                "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":4},\"next\":{\"anyOf\":[{\"$ref\":\"#\"},{\"type\":\"null\"}]}},\"required\":[\"name\",\"next\"]}",
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"additionalProperties\":{\"type\":\"boolean\"}}",
                "{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\",\"maxLength\":3},{\"type\":\"integer\"}],\"items\":false,\"minItems\":1}}}",
                "{\"type\":\"object\"}",
                "{}",
                "{\"type\":\"object\",\"properties\":{\"opt1\":{\"type\":\"integer\"},\"opt2\":{\"type\":\"boolean\"},\"req\":{\"type\":\"null\"},\"opt3\":{\"type\":\"string\",\"maxLength\":2}},\"required\":[\"req\"]}",
                "{\"allOf\":[{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}},\"required\":[\"x\"],\"title\":\"T\"}],\"description\":\"pydantic style\"}");
    }

    @ParameterizedTest
    @MethodSource("schemas")
    void walksOnTheTinyTokenizerValidate(String schemaText) throws Exception {
        walkAndValidate(StructuredFixtures.tiny(), schemaText, 25, true);
    }

    @ParameterizedTest
    @MethodSource("schemas")
    void walksOnDeepSeekV3sTokenizerValidate(String schemaText) throws Exception {
        walkAndValidate(StructuredFixtures.v3(), schemaText, 3, false);
    }

    private static void walkAndValidate(TokenVocabulary vocab, String schemaText, int walks, boolean bruteForce) throws Exception {
        JsonNode schema = JSON.readTree(schemaText);
        SchemaValidator validator = new SchemaValidator(schema);
        CompiledConstraint c = StructuredFixtures.compile(vocab, Constraint.jsonSchema(schema));
        RandomWalk walk = new RandomWalk(c, bruteForce);
        Random rnd = new Random(schemaText.hashCode());
        int finished = 0;
        for (int i = 0; i < walks; i++) {
            byte[] out = walk.walk(rnd, 400);
            if (out == null) continue;
            finished++;
            String text = new String(out, StandardCharsets.UTF_8);
            assertThat(validator.errors(text)).as("output %s of schema %s", text, schemaText).isEmpty();
            assertThat(text.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\""))
                    .as("whitespace runs between tokens are bounded").doesNotContainPattern(Pattern.compile("[ \\t\\n\\r]{21}"));
        }
        assertThat(finished).as("walks that finished").isGreaterThanOrEqualTo((walks + 1) / 2);
    }

    @Test
    void compactWhitespaceWritesNone() throws Exception {
        JsonNode schema = JSON.readTree(schemas().get(1));
        Constraint c = new Constraint(Constraint.Kind.JSON_SCHEMA, schema.toString(), true, null, false);
        RandomWalk walk = new RandomWalk(StructuredFixtures.compile(StructuredFixtures.tiny(), c), false);
        Random rnd = new Random(5);
        for (int i = 0; i < 10; i++) {
            byte[] out = walk.walk(rnd, 300);
            if (out == null) continue;
            JsonNode parsed = SchemaValidator.STRICT.readTree(out);
            assertThat(new String(out, StandardCharsets.UTF_8)).isEqualTo(JSON.writeValueAsString(parsed));
        }
    }

    @Test
    void jsonObjectGivesObjects() throws Exception {
        RandomWalk walk = new RandomWalk(StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.jsonObject()), true);
        Random rnd = new Random(9);
        List<String> outs = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            byte[] out = walk.walk(rnd, 300);
            if (out != null) outs.add(new String(out, StandardCharsets.UTF_8));
        }
        assertThat(outs).hasSizeGreaterThan(20);
        for (String o : outs) assertThat(SchemaValidator.STRICT.readTree(o).isObject()).as(o).isTrue();
        CompiledConstraint c = StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.jsonObject());
        for (String ok : List.of("{\"x\": -0.5e3, \"y\": [0, -0, 1.25E+12, {}], \"z\": \"\\u00e9\\n\"}", "{ }")) {
            Matcher m = c.newMatcher();
            assertThat(m.acceptBytes(ok.getBytes(StandardCharsets.UTF_8)) && m.isComplete()).as(ok).isTrue();
        }
        assertThat(outs).as("some outputs nest").anyMatch(o -> o.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "").matches("(?s).*[\\[{].*[\\[{].*"));
    }

    @Test
    void unsupportedKeywordsAreRefusedByName() {
        assertRefused("{\"type\":\"string\",\"contentEncoding\":\"base64\"}", "contentEncoding");
        assertRefused("{\"type\":\"object\",\"patternProperties\":{\"^a\":{}}}", "patternProperties");
        assertRefused("{\"type\":\"array\",\"uniqueItems\":true}", "uniqueItems");
        assertRefused("{\"type\":\"integer\",\"multipleOf\":3}", "multipleOf");
        assertRefused("{\"not\":{\"type\":\"string\"}}", "not");
        assertRefused("{\"type\":\"object\",\"properties\":{\"a\":{\"if\":{}}}}", "'if'");
        assertRefused("{\"type\":\"string\",\"format\":\"iri\"}", "format 'iri'");
        assertRefused("{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "backreferences");
        assertRefused("{\"type\":\"string\",\"pattern\":\"a+\",\"maxLength\":3}", "minLength/maxLength");
        assertRefused("{\"type\":\"number\",\"minimum\":0.5}", "whole-number bounds");
        assertRefused("{\"$ref\":\"http://example.com/s.json\"}", "only references inside the schema");
        assertRefused("{\"$ref\":\"#/$defs/missing\"}", "points to nothing");
        assertRefused("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}", "use anyOf");
        assertRefused("{\"type\":\"object\",\"properties\":{},\"required\":[\"x\"],\"additionalProperties\":false}", "'x' is required");
        assertRefused("{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", "admits no output");
        assertRefused("{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":3}]}", "allOf");
    }

    @Test
    void errorsSayWhere() {
        assertRefused("{\"type\":\"object\",\"properties\":{\"a/b\":{\"type\":\"string\",\"dependentRequired\":{}}}}", "#/properties/a~1b");
    }

    private static void assertRefused(String schema, String messagePart) {
        assertThatThrownBy(() -> StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.jsonSchema(JSON.readTree(schema))))
                .isInstanceOf(ConstraintException.class).hasMessageContaining(messagePart);
    }

    @Test
    void additionalPropertiesNeverRepeatADeclaredKey() throws Exception {
        String schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"ab\":{\"type\":\"integer\"}},\"additionalProperties\":{\"type\":\"integer\"}}";
        CompiledConstraint c = StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.jsonSchema(JSON.readTree(schema)));
        for (String s : List.of("{\"a\":1,\"a\":2}", "{\"a\":1,\"ab\":2,\"ab\":3}", "{\"b\":1,\"a\":2}")) {
            Matcher m = c.newMatcher();
            assertThat(m.acceptBytes(s.getBytes(StandardCharsets.UTF_8)) && m.isComplete()).as(s).isFalse();
        }
        for (String s : List.of("{\"a\":1,\"abc\":2}", "{\"ab\":1,\"\":2,\"a\\\"\":3}", "{}")) {
            Matcher m = c.newMatcher();
            assertThat(m.acceptBytes(s.getBytes(StandardCharsets.UTF_8)) && m.isComplete()).as(s).isTrue();
        }
    }
}
