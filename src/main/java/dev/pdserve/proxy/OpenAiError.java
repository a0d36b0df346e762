package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * An error the proxy answers itself, in OpenAI's shape {@code {"error":{"message","type","param","code"}}}
 * (vLLM's type names: BadRequestError, ServiceUnavailableError, ...).
 */
final class OpenAiError extends RuntimeException {
    static final String UPSTREAM = "upstream_error";

    final int status;
    final String type;

    OpenAiError(int status, String type, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
    }

    static OpenAiError badRequest(String message) {
        return new OpenAiError(400, "BadRequestError", message);
    }

    static OpenAiError unavailable(String message) {
        return new OpenAiError(503, "ServiceUnavailableError", message);
    }

    static OpenAiError upstream(String message) {
        return new OpenAiError(502, UPSTREAM, message);
    }

    byte[] json(ObjectMapper json) {
        return body(json, getMessage(), type, status);
    }

    static byte[] body(ObjectMapper json, String message, String type, int code) {
        ObjectNode root = json.createObjectNode();
        ObjectNode e = root.putObject("error");
        e.put("message", message);
        e.put("type", type);
        e.putNull("param");
        e.put("code", code);
        try {
            return json.writeValueAsBytes(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException x) {
            throw new IllegalStateException(x);
        }
    }
}
