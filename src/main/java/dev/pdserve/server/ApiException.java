package dev.pdserve.server;

/**
 * A request the API refuses, with the HTTP status and vLLM's error type name. Thrown by the
 * parsers and handlers, turned into {@code {"error":{"message","type","param","code"}}} once.
 */
public final class ApiException extends RuntimeException {
    public final int status;
    public final String param;

    public ApiException(int status, String param, String message) {
        super(message);
        this.status = status;
        this.param = param;
    }

    public static ApiException badRequest(String param, String message) {
        return new ApiException(400, param, message);
    }

    /** vLLM's {@code type} for a status (the name of the HTTP status, as its error responses carry). */
    public static String typeFor(int status) {
        return switch (status) {
            case 400 -> "BadRequestError";
            case 401 -> "AuthenticationError";
            case 404 -> "NotFoundError";
            case 409 -> "ConflictError";
            case 413 -> "RequestEntityTooLargeError";
            case 429 -> "TooManyRequestsError";
            case 503 -> "ServiceUnavailableError";
            default -> status >= 500 ? "InternalServerError" : "BadRequestError";
        };
    }
}
