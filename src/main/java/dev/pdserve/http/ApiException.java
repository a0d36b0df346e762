package dev.pdserve.http;

/**
 * A request refused at the HTTP edge, with the status and the field at fault ({@code param}, or
 * null). Thrown by parsers and handlers of the server and the proxy, turned into
 * {@code {"error":{"message","type","param","code"}}} once ({@link ErrorBody}).
 */
public final class ApiException extends RuntimeException {
    public final int status;
    public final String param;
    /**
     * A 5xx that the request's content caused (it would fail the same anywhere): sent with
     * {@link HttpEdge#ERROR_CAUSE}{@code : request}, so the proxy neither retries it nor counts it
     * against the instance. (A 4xx is the request's by definition.)
     */
    public final boolean causedByRequest;

    public ApiException(int status, String param, String message) {
        this(status, param, message, false);
    }

    private ApiException(int status, String param, String message, boolean causedByRequest) {
        super(message, null, false, false);
        this.status = status;
        this.param = param;
        this.causedByRequest = causedByRequest;
    }

    /** A server error that only this request's content causes; see {@link #causedByRequest}. */
    public static ApiException causedByRequest(int status, String param, String message) {
        return new ApiException(status, param, message, true);
    }

    public static ApiException badRequest(String param, String message) {
        return new ApiException(400, param, message);
    }

    public static ApiException unavailable(String message) {
        return new ApiException(503, null, message);
    }

    /** The proxy's answer when an instance failed and no retry is left. */
    public static ApiException upstream(String message) {
        return new ApiException(502, null, message);
    }

    /**
     * The error {@code type} for a status: vLLM's names (the HTTP status's name, as its error
     * responses carry); 502, which only the proxy sends, is {@code upstream_error}.
     */
    public static String typeFor(int status) {
        return switch (status) {
            case 400 -> "BadRequestError";
            case 401 -> "AuthenticationError";
            case 403 -> "PermissionDeniedError";
            case 404 -> "NotFoundError";
            case 405 -> "MethodNotAllowedError";
            case 409 -> "ConflictError";
            case 413 -> "RequestEntityTooLargeError";
            case 414 -> "URITooLongError";
            case 429 -> "TooManyRequestsError";
            case 502 -> "upstream_error";
            case 503 -> "ServiceUnavailableError";
            default -> status >= 500 ? "InternalServerError" : "BadRequestError";
        };
    }
}
