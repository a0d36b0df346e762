package dev.pdserve.cli;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/**
 * Fails fast, before a model loads or a readiness line prints, when {@code serve} or {@code proxy}
 * cannot listen where asked: one line naming the port, and exit code 1.
 */
final class ListenCheck {
    private ListenCheck() {}

    static void checkFree(String host, int port) {
        if (port == 0) return; // the system picks a free one
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // as the server binds: a port in TIME_WAIT is free
            s.bind(new InetSocketAddress(host, port));
        } catch (BindException e) {
            throw inUse(host, port);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot listen on " + host + ":" + port + ": " + e.getMessage());
        }
    }

    static IllegalArgumentException inUse(String host, int port) {
        return new IllegalArgumentException("port " + port + " on " + host + " is already in use; choose another --port or stop what listens there");
    }
}
