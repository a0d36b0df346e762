package dev.pdserve.launch;

/** A process could not be started, did not become ready, or died: the message says which and shows its log. */
public final class LaunchException extends RuntimeException {
    public LaunchException(String message) {
        super(message);
    }

    public LaunchException(String message, Throwable cause) {
        super(message, cause);
    }
}
