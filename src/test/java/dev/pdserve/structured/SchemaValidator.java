package dev.pdserve.structured;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;

import java.util.List;

/** An output checked by independent code: strict JSON parsing (Jackson) and networknt's validator with formats asserted. */
public final class SchemaValidator {
    // Not strict about duplicate keys: free-form objects (json_object, additionalProperties: true) may
    // repeat one, which JSON allows and no finite automaton can exclude; declared properties never repeat.
    static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private final Schema schema;

    public SchemaValidator(JsonNode schema) {
        SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
                b -> b.schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));
        this.schema = registry.getSchema(schema);
    }

    /** Validation errors; a parse failure is one. */
    public List<String> errors(String output) {
        JsonNode node;
        try {
            node = STRICT.readTree(output);
        } catch (Exception e) {
            return List.of("not JSON: " + e.getMessage());
        }
        if (node == null) return List.of("empty output");
        return schema.validate(node).stream().map(Object::toString).toList();
    }
}
