package dev.pdserve.launch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Free loopback ports for child processes, which (unlike our own servers) cannot bind port 0 and tell us. */
public final class FreePorts {
    private FreePorts() {}

    /**
     * {@code n} distinct ports that were free a moment ago: all sockets are held open together so the OS hands
     * out different ports, then closed for the children to bind. Another program may still take one in between;
     * the child then fails to start and its log says so.
     */
    public static int[] pick(int n) {
        List<ServerSocket> held = new ArrayList<>(n);
        try {
            int[] ports = new int[n];
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                held.add(s);
                ports[i] = s.getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find free loopback ports: " + e.getMessage(), e);
        } finally {
            for (ServerSocket s : held) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // nothing to do: the port is released either way
                }
            }
        }
    }
}
