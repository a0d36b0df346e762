package dev.pdserve.engine;

/** Receives a request's outputs, on the engine's thread: hand them off, never block. */
@FunctionalInterface
public interface OutputSink {
    void accept(RequestOutput output);
}
