package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** src/main/resources/cluster.schema.json, checked with an independent validator (networknt). */
final class ClusterSchema {
    private static final Schema SCHEMA = load();

    private ClusterSchema() {}

    /** The validator's messages; empty when {@code json} is a valid cluster.json. */
    static List<String> errors(String json) {
        try {
            return errors(new ObjectMapper().readTree(json));
        } catch (IOException e) {
            return List.of("not JSON: " + e.getMessage());
        }
    }

    static List<String> errors(JsonNode json) {
        return SCHEMA.validate(json).stream().map(Object::toString).toList();
    }

    private static Schema load() {
        try (InputStream in = ClusterSchema.class.getResourceAsStream("/cluster.schema.json")) {
            if (in == null) throw new IllegalStateException("cluster.schema.json is not on the class path");
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(text);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
