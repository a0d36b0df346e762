package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads the constraint of an OpenAI/vLLM request body, in any of the forms vLLM takes:
 * {@code response_format} ({@code json_object}, {@code json_schema}), the older {@code guided_json},
 * {@code guided_regex}, {@code guided_choice}, {@code guided_grammar} (with
 * {@code guided_whitespace_pattern}), and the newer {@code structured_outputs} object. At most one
 * constraint per request, as in vLLM. Errors are {@link ConstraintException}s naming the field.
 */
public final class StructuredOutputRequest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A request's constraint and the field it came from (for the param of a 400 when it does not compile). */
    public record Parsed(Constraint constraint, String param) {}

    private StructuredOutputRequest() {}

    /** The body's constraint, or null when it asks for none. */
    public static Parsed parse(JsonNode body) {
        List<Parsed> found = new ArrayList<>();
        JsonNode rf = body.get("response_format");
        if (rf != null && !rf.isNull()) responseFormat(rf, found);
        JsonNode so = body.get("structured_outputs");
        Options opts = new Options(false, null, false);
        if (so != null && !so.isNull()) opts = structuredOutputs(so, found);
        JsonNode g;
        if ((g = present(body, "guided_json")) != null) found.add(new Parsed(Constraint.jsonSchema(schemaOf(g, "guided_json")), "guided_json"));
        if ((g = present(body, "guided_regex")) != null) found.add(new Parsed(Constraint.regex(text(g, "guided_regex")), "guided_regex"));
        if ((g = present(body, "guided_choice")) != null) found.add(new Parsed(Constraint.choice(choices(g, "guided_choice")), "guided_choice"));
        if ((g = present(body, "guided_grammar")) != null) found.add(new Parsed(Constraint.grammar(text(g, "guided_grammar")), "guided_grammar"));
        if ((g = present(body, "guided_whitespace_pattern")) != null) {
            if (opts.whitespacePattern != null) throw new ConstraintException("guided_whitespace_pattern", "give the whitespace pattern once, not also in structured_outputs");
            opts = new Options(opts.disableAnyWhitespace, text(g, "guided_whitespace_pattern"), opts.disableAdditionalProperties);
        }
        if (found.isEmpty()) return null;
        if (found.size() > 1) {
            throw new ConstraintException(found.get(1).param(), "only one kind of structured output constraint can be used, but "
                    + found.get(0).param() + " and " + found.get(1).param() + " are both given");
        }
        Parsed p = found.getFirst();
        Constraint c = p.constraint();
        if (opts.whitespacePattern != null) {
            try {
                RegexParser.parse(opts.whitespacePattern);
            } catch (ConstraintException e) {
                throw e.withParam("whitespace_pattern");
            }
        }
        return new Parsed(new Constraint(c.kind(), c.text(), opts.disableAnyWhitespace, opts.whitespacePattern, opts.disableAdditionalProperties), p.param());
    }

    private record Options(boolean disableAnyWhitespace, String whitespacePattern, boolean disableAdditionalProperties) {}

    private static JsonNode present(JsonNode o, String field) {
        JsonNode n = o.get(field);
        return n == null || n.isNull() ? null : n;
    }

    private static void responseFormat(JsonNode rf, List<Parsed> found) {
        if (!rf.isObject()) throw new ConstraintException("response_format", "response_format must be an object");
        String type = rf.path("type").asText("");
        switch (type) {
            case "text" -> { }
            case "json_object" -> found.add(new Parsed(Constraint.jsonObject(), "response_format"));
            case "json_schema" -> {
                JsonNode js = rf.get("json_schema");
                if (js == null || !js.isObject()) throw new ConstraintException("response_format", "response_format of type json_schema needs a json_schema object");
                JsonNode schema = js.get("schema");
                if (schema == null || schema.isNull()) throw new ConstraintException("response_format", "response_format.json_schema needs a schema");
                found.add(new Parsed(Constraint.jsonSchema(schemaOf(schema, "response_format")), "response_format"));
            }
            case "structural_tag" -> throw new ConstraintException("response_format", "response_format of type structural_tag is not supported");
            default -> throw new ConstraintException("response_format", "response_format.type must be 'text', 'json_object' or 'json_schema', not '" + type + "'");
        }
    }

    private static Options structuredOutputs(JsonNode so, List<Parsed> found) {
        String p = "structured_outputs";
        if (!so.isObject()) throw new ConstraintException(p, "structured_outputs must be an object");
        JsonNode n;
        if ((n = present(so, "json")) != null) found.add(new Parsed(Constraint.jsonSchema(schemaOf(n, p)), p));
        if ((n = present(so, "regex")) != null) found.add(new Parsed(Constraint.regex(text(n, p + ".regex")), p));
        if ((n = present(so, "choice")) != null) found.add(new Parsed(Constraint.choice(choices(n, p + ".choice")), p));
        if ((n = present(so, "grammar")) != null) found.add(new Parsed(Constraint.grammar(text(n, p + ".grammar")), p));
        if (so.path("json_object").asBoolean(false)) found.add(new Parsed(Constraint.jsonObject(), p));
        if (present(so, "structural_tag") != null) throw new ConstraintException(p, "structured_outputs.structural_tag is not supported");
        long kinds = found.stream().filter(x -> x.param().equals(p)).count();
        if (kinds > 1) throw new ConstraintException(p, "structured_outputs must give exactly one of json, regex, choice, grammar, json_object");
        if (kinds == 0) throw new ConstraintException(p, "structured_outputs gives no constraint: set one of json, regex, choice, grammar, json_object");
        JsonNode ws = present(so, "whitespace_pattern");
        return new Options(so.path("disable_any_whitespace").asBoolean(false), ws == null ? null : text(ws, p + ".whitespace_pattern"),
                so.path("disable_additional_properties").asBoolean(false));
    }

    /** A schema given as a JSON object (or boolean), or as a string holding one. */
    private static JsonNode schemaOf(JsonNode n, String param) {
        if (n.isTextual()) {
            try {
                n = JSON.readTree(n.asText());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new ConstraintException(param, "the JSON schema is not valid JSON: " + e.getOriginalMessage());
            }
        }
        if (!n.isObject() && !n.isBoolean()) throw new ConstraintException(param, "the JSON schema must be an object");
        return n;
    }

    private static String text(JsonNode n, String param) {
        if (!n.isTextual()) throw new ConstraintException(param.replaceAll("\\..*", ""), param + " must be a string");
        return n.asText();
    }

    private static List<String> choices(JsonNode n, String param) {
        String field = param.replaceAll("\\..*", "");
        if (!n.isArray() || n.isEmpty()) throw new ConstraintException(field, param + " must be a non-empty array of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode c : n) {
            if (!c.isTextual()) throw new ConstraintException(field, param + " must hold only strings");
            out.add(c.asText());
        }
        return out;
    }
}
