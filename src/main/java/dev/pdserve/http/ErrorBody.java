package dev.pdserve.http;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The error JSON, in the shape vLLM answers with: {@code {"error":{"message","type","param","code"}}}
 * where {@code code} is the HTTP status (vLLM's ErrorInfo). Sent as a whole response and, as one
 * {@code data:} event, inside a stream that already started.
 */
public final class ErrorBody {
    private ErrorBody() {}

    public static ObjectNode of(int status, String param, String message) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", message);
        error.put("type", ApiException.typeFor(status));
        if (param == null) error.putNull("param"); else error.put("param", param);
        error.put("code", status);
        return root;
    }

    public static ObjectNode of(ApiException e) {
        return of(e.status, e.param, e.getMessage());
    }
}
