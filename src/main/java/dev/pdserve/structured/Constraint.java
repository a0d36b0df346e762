package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Objects;

/**
 * What a request asks its output to be, as vLLM's {@code StructuredOutputsParams} holds it: one
 * kind with its text (a schema as compact JSON, a regex, GBNF, or the choices as a JSON array)
 * and the JSON whitespace options. A value (equal constraints compile once), small enough to
 * travel with a request; {@link #toJson()} gives vLLM's {@code structured_outputs} object.
 */
public record Constraint(Kind kind, String text, boolean disableAnyWhitespace, String whitespacePattern, boolean disableAdditionalProperties) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Kind { JSON_SCHEMA, JSON_OBJECT, REGEX, CHOICE, GRAMMAR }

    public Constraint {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(text, "text");
    }

    public static Constraint jsonSchema(JsonNode schema) { return new Constraint(Kind.JSON_SCHEMA, schema.toString(), false, null, false); }

    public static Constraint jsonObject() { return new Constraint(Kind.JSON_OBJECT, "", false, null, false); }

    public static Constraint regex(String regex) { return new Constraint(Kind.REGEX, regex, false, null, false); }

    public static Constraint choice(List<String> choices) { return new Constraint(Kind.CHOICE, JSON.valueToTree(choices).toString(), false, null, false); }

    /** A grammar in GBNF (llama.cpp's format, which xgrammar also reads). */
    public static Constraint grammar(String gbnf) { return new Constraint(Kind.GRAMMAR, gbnf, false, null, false); }

    /** vLLM's {@code structured_outputs} object for this constraint (parsed back by {@link StructuredOutputRequest}). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        try {
            switch (kind) {
                case JSON_SCHEMA -> o.set("json", JSON.readTree(text));
                case JSON_OBJECT -> o.put("json_object", true);
                case REGEX -> o.put("regex", text);
                case CHOICE -> o.set("choice", JSON.readTree(text));
                case GRAMMAR -> o.put("grammar", text);
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        if (disableAnyWhitespace) o.put("disable_any_whitespace", true);
        if (whitespacePattern != null) o.put("whitespace_pattern", whitespacePattern);
        if (disableAdditionalProperties) o.put("disable_additional_properties", true);
        return o;
    }
}
