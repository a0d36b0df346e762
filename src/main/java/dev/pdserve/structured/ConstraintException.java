package dev.pdserve.structured;

/**
 * A constraint that cannot be used: malformed, or asking for a feature pdserve does not support.
 * The server answers it with HTTP 400; {@code param} names the request field when known.
 */
public final class ConstraintException extends RuntimeException {
    private final String param;

    public ConstraintException(String message) { this(null, message); }

    public ConstraintException(String param, String message) {
        super(message);
        this.param = param;
    }

    /** The request field at fault ("response_format", "guided_regex", ...), or null. */
    public String param() { return param; }

    ConstraintException withParam(String p) { return param != null ? this : new ConstraintException(p, getMessage()); }
}
