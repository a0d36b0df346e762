package dev.pdserve.kv;

/**
 * A KV transfer that did not happen, with a message saying why (refused handshake, unknown request,
 * timeout, lost connection) and the HTTP status the decode instance answers: 502 when the prefill side
 * failed, 4xx when the producer refused the request itself (another prompt's KV, a wrong block list).
 */
public class KvTransferException extends Exception {
    private final int status;

    public KvTransferException(String message) { this(502, message); }

    public KvTransferException(int status, String message) {
        super(message);
        this.status = status;
    }

    public KvTransferException(String message, Throwable cause) {
        super(message, cause);
        this.status = 502;
    }

    public int status() { return status; }
}
