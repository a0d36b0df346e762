package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;
import dev.pdserve.structured.Constraint;
import dev.pdserve.toolcall.ToolCallParser;

import java.util.ArrayList;
import java.util.List;

/**
 * A chat request's {@code tools}, {@code tool_choice} and {@code parallel_tool_calls}, checked as
 * vLLM checks them. {@code auto} (the default when tools are given) needs the server's
 * {@code --enable-auto-tool-choice --tool-call-parser NAME}; {@code required} and a named function
 * constrain the output with a JSON schema built from the tools' parameters, as vLLM does.
 */
record ToolRequest(Mode mode, List<ObjectNode> tools, String function, boolean parallel, String parserName) {
    private static final ObjectMapper JSON = new ObjectMapper();

    enum Mode { NONE, AUTO, REQUIRED, NAMED }

    /** What the server was started with: {@code --enable-auto-tool-choice} and {@code --tool-call-parser}. */
    record Support(boolean autoToolChoice, String parserName) {
        static final Support NONE = new Support(false, null);
    }

    /** The request's tools, or null when it gives none. */
    static ToolRequest parse(JsonFields f, Support support) {
        JsonNode tools = f.get("tools");
        JsonNode choice = f.get("tool_choice");
        boolean parallel = f.bool("parallel_tool_calls", true);
        if (tools == null || (tools.isArray() && tools.isEmpty())) {
            if (choice != null && !(choice.isTextual() && choice.textValue().equals("none"))) {
                throw ApiException.badRequest("tool_choice", "When using `tool_choice`, `tools` must be set.");
            }
            return null;
        }
        if (!tools.isArray()) throw ApiException.badRequest("tools", "'tools' must be a list of tools");
        List<ObjectNode> list = new ArrayList<>();
        for (JsonNode t : tools) {
            if (!t.isObject() || !"function".equals(t.path("type").asText("function")) || !t.path("function").isObject()) {
                throw ApiException.badRequest("tools", "each tool must be {\"type\": \"function\", \"function\": {\"name\": ..., \"parameters\": {...}}}");
            }
            JsonNode fn = t.get("function");
            if (!fn.path("name").isTextual() || fn.get("name").textValue().isEmpty()) throw ApiException.badRequest("tools", "each tool's function needs a string 'name'");
            JsonNode params = fn.get("parameters");
            if (params != null && !params.isNull() && !params.isObject()) throw ApiException.badRequest("tools", "a function's 'parameters' must be a JSON schema object");
            list.add((ObjectNode) t);
        }
        Mode mode;
        String function = null;
        if (choice == null || (choice.isTextual() && choice.textValue().equals("auto"))) {
            mode = Mode.AUTO;
        } else if (choice.isTextual() && choice.textValue().equals("none")) {
            mode = Mode.NONE;
        } else if (choice.isTextual() && choice.textValue().equals("required")) {
            mode = Mode.REQUIRED;
        } else if (choice.isObject() && choice.path("function").path("name").isTextual()) {
            mode = Mode.NAMED;
            function = choice.get("function").get("name").textValue();
            String name = function;
            if (list.stream().noneMatch(t -> t.get("function").get("name").textValue().equals(name))) {
                throw ApiException.badRequest("tool_choice", "Tool '" + function + "' has not been passed in `tools`.");
            }
        } else {
            throw ApiException.badRequest("tool_choice", "tool_choice must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
        if (mode == Mode.AUTO && !(support.autoToolChoice() && support.parserName() != null)) {
            throw ApiException.badRequest("tool_choice", "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set");
        }
        return new ToolRequest(mode, List.copyOf(list), function, parallel, support.parserName());
    }

    /** The tools as the chat template gets them (transformers passes the OpenAI tool objects). */
    List<Object> templateTools() {
        List<Object> out = new ArrayList<>();
        for (ObjectNode t : tools) out.add(JSON.convertValue(t, Object.class));
        return out;
    }

    /** The output constraint of {@code required} and a named function, else null. */
    Constraint constraint() {
        return switch (mode) {
            case NAMED -> Constraint.jsonSchema(parameters(tool(function)));
            case REQUIRED -> {
                ObjectNode schema = JSON.createObjectNode().put("type", "array").put("minItems", 1);
                if (!parallel) schema.put("maxItems", 1);
                ArrayNode anyOf = schema.putObject("items").putArray("anyOf");
                for (ObjectNode t : tools) {
                    ObjectNode item = anyOf.addObject().put("type", "object");
                    ObjectNode props = item.putObject("properties");
                    props.putObject("name").put("type", "string").putArray("enum").add(t.get("function").get("name").textValue());
                    props.set("parameters", parameters(t));
                    item.putArray("required").add("name").add("parameters");
                    item.put("additionalProperties", false);
                }
                yield Constraint.jsonSchema(schema);
            }
            case AUTO, NONE -> null;
        };
    }

    /** How the output is read back into tool calls, or null when it is plain content. */
    ToolCallParser responseParser() {
        return switch (mode) {
            case AUTO -> ToolCallParser.named(parserName);
            case REQUIRED -> ToolCallParser.forRequiredChoice();
            case NAMED -> ToolCallParser.forNamedFunction(function);
            case NONE -> null;
        };
    }

    /** A named choice returns finish_reason "stop" (as OpenAI and vLLM do); calls found otherwise give "tool_calls". */
    boolean callsFinishAsToolCalls() { return mode != Mode.NAMED; }

    private ObjectNode tool(String name) {
        for (ObjectNode t : tools) if (t.get("function").get("name").textValue().equals(name)) return t;
        throw new IllegalStateException(name);
    }

    private static JsonNode parameters(ObjectNode tool) {
        JsonNode p = tool.get("function").get("parameters");
        return p == null || p.isNull() ? JSON.createObjectNode().put("type", "object") : p;
    }
}
