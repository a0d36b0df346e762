package dev.pdserve.cluster;

/** A cluster.json that cannot be used; the message names the file, the field and the instance. */
public final class ClusterSpecException extends RuntimeException {
    public ClusterSpecException(String message) {
        super(message);
    }

    public ClusterSpecException(String message, Throwable cause) {
        super(message, cause);
    }
}
