package dev.pdserve.kv;

/** A KV transfer that did not happen, with a message saying why (refused handshake, unknown request, timeout, lost connection). */
public class KvTransferException extends Exception {
    public KvTransferException(String message) { super(message); }

    public KvTransferException(String message, Throwable cause) { super(message, cause); }
}
