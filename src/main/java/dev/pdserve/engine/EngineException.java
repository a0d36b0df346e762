package dev.pdserve.engine;

/** A request the engine refuses; {@code status} is the HTTP status the API should answer with. */
public class EngineException extends RuntimeException {
    public final int status;
    public final String param;

    public EngineException(int status, String param, String message) {
        super(message);
        this.status = status;
        this.param = param;
    }

    /** A 400: the request breaks a rule about {@code param} (null: the request as a whole). */
    public static EngineException badRequest(String param, String message) { return new EngineException(400, param, message); }
}
