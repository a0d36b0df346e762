package dev.pdserve.proxy;

import dev.pdserve.http.ApiException;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A proxy must not be turned on itself: registered as one of its own instances, or in a ring of
 * proxies, one request would fan out until the file descriptors run out. Every call to an instance
 * carries {@value #HOPS} (the ids of the proxies it passed, this one's last); a request that arrives
 * carrying this proxy's id, or more than {@value #MAX_HOPS} of them, is refused with 508. Health probes
 * see {@value #PROXY_ID} on {@code /health}, so an instance that is this very proxy is taken out, and
 * an address that is this proxy's own listen address is refused when it is added.
 */
final class Loops {
    static final String HOPS = "x-pdserve-proxy-hops";
    static final String PROXY_ID = "x-pdserve-proxy-id";
    static final int MAX_HOPS = 8;

    final String id = "pdproxy-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());

    /** The hops to forward for a request that came with {@code incoming} (may be null); 508 for a loop. */
    String forward(String incoming) {
        if (incoming == null || incoming.isBlank()) return id;
        String[] hops = incoming.split(",");
        for (String h : hops) {
            if (h.strip().equals(id)) throw loop("the request came back to this proxy (" + id + ") through " + incoming
                    + ": one of its instances is this proxy itself or a proxy in front of it");
        }
        if (hops.length >= MAX_HOPS) throw loop("the request passed " + hops.length + " proxies (" + incoming + "): a loop?");
        return incoming + "," + id;
    }

    private static ApiException loop(String message) {
        return new ApiException(508, null, "Loop detected: " + message);
    }

    /** Whether {@code a} is where this proxy listens ({@code host}, {@code port}): same port on an address of this machine. */
    static boolean isOwnAddress(InstanceAddress a, String host, int port) {
        if (a.port() != port) return false;
        try {
            InetAddress target = InetAddress.getByName(a.host());
            InetAddress bound = InetAddress.getByName(host);
            if (bound.isAnyLocalAddress()) return target.isAnyLocalAddress() || target.isLoopbackAddress() || NetworkInterface.getByInetAddress(target) != null;
            if (target.isAnyLocalAddress()) return bound.isLoopbackAddress() || NetworkInterface.getByInetAddress(bound) != null;
            return target.equals(bound) || target.isLoopbackAddress() && bound.isLoopbackAddress();
        } catch (UnknownHostException | SocketException e) {
            return false; // cannot be resolved here, so it cannot be this proxy's address
        }
    }
}
