package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The error JSON, in the shape vLLM answers with: {@code {"error":{"message","type","param","code"}}}
 * where {@code code} is the HTTP status (vLLM's ErrorInfo). Used for plain responses and, as one
 * {@code data:} event, inside a stream that already started.
 */
final class ErrorBody {
    private ErrorBody() {}

    static ObjectNode of(int status, String param, String message) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", message);
        error.put("type", ApiException.typeFor(status));
        if (param == null) error.putNull("param"); else error.put("param", param);
        error.put("code", status);
        return root;
    }

    static ObjectNode of(ApiException e) {
        return of(e.status, e.param, e.getMessage());
    }
}
