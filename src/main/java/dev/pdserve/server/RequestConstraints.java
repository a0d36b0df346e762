package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;
import dev.pdserve.structured.CompiledConstraint;
import dev.pdserve.structured.Constraint;
import dev.pdserve.structured.ConstraintException;
import dev.pdserve.structured.StructuredOutputRequest;
import dev.pdserve.structured.StructuredOutputs;

import java.util.function.Supplier;

/**
 * A request's output constraint (response_format, structured_outputs, guided_*, or the schema of a
 * forced tool call), compiled on the request's thread so the engine never compiles and a bad one
 * is a 400 naming its field before anything runs. Compiled constraints are cached by
 * {@link StructuredOutputs}; the vocabulary behind them is loaded on first use.
 */
final class RequestConstraints {
    private final Supplier<StructuredOutputs> outputs;
    private volatile StructuredOutputs loaded;

    /** @param outputs the model's compiler, or null when this server has none (constraints are then refused) */
    RequestConstraints(Supplier<StructuredOutputs> outputs) { this.outputs = outputs; }

    /** The body's compiled constraint, or null when it asks for none. */
    CompiledConstraint of(ObjectNode body, ToolRequest tools) {
        StructuredOutputRequest.Parsed parsed;
        try {
            parsed = StructuredOutputRequest.parse(body);
        } catch (ConstraintException e) {
            throw ApiException.badRequest(e.param(), e.getMessage());
        }
        Constraint toolConstraint = tools == null ? null : tools.constraint();
        if (parsed != null && toolConstraint != null) {
            throw ApiException.badRequest("tool_choice", "tool_choice '" + tools.mode().name().toLowerCase()
                    + "' constrains the output to a tool call, so it cannot be combined with " + parsed.param());
        }
        if (parsed == null && toolConstraint == null) return null;
        String param = parsed != null ? parsed.param() : "tools";
        try {
            CompiledConstraint c = compiler(param).compile(parsed != null ? parsed.constraint() : toolConstraint);
            // The first step's mask (the start state's trie walk) is computed here, not on the engine thread.
            c.newMatcher().fillMask(new long[c.vocabulary().maskWords()]);
            return c;
        } catch (ConstraintException e) {
            throw ApiException.badRequest(e.param() != null && parsed == null ? "tools" : param, e.getMessage());
        }
    }

    private StructuredOutputs compiler(String param) {
        StructuredOutputs s = loaded;
        if (s != null) return s;
        if (outputs == null) throw ApiException.badRequest(param, "structured output is not available on this server (no tokenizer vocabulary)");
        synchronized (this) {
            if (loaded == null) loaded = outputs.get();
            return loaded;
        }
    }
}
