package dev.pdserve.cluster;

import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.PortUnreachableException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;

/** Turns a failed connection or request into a doctor row that names the problem and its fix. */
final class NetworkFailure {
    private NetworkFailure() {}

    /** Names the failure the way an operator searches for it, and the fix that goes with it. */
    static CheckResult row(String instance, String check, String host, int port, String what, IOException e,
                           String refusedFix, Duration timeout) {
        String at = "port " + port + " on " + host;
        Throwable cause = e.getCause() == null ? e : e.getCause(); // HttpClient wraps the socket error in a ConnectException
        if (e instanceof UnknownHostException || cause instanceof UnresolvedAddressException || cause instanceof UnknownHostException) {
            return CheckResult.fail(instance, check, "host " + host + " does not resolve",
                    "fix the host in the cluster file or add it to DNS / /etc/hosts on this node");
        }
        if (e instanceof NoRouteToHostException || cause instanceof NoRouteToHostException) {
            return CheckResult.fail(instance, check, what + " " + at + ": no route to host",
                    "check that " + host + " is up and routable from this node (address, subnet, firewall)");
        }
        if (e instanceof SocketTimeoutException || e instanceof HttpConnectTimeoutException) {
            return CheckResult.fail(instance, check, what + " " + at + ": no answer within " + timeout.toMillis() + " ms",
                    "check that " + host + " is up and that no firewall drops packets to port " + port + " (or raise --timeout-ms)");
        }
        if (e instanceof HttpTimeoutException) {
            return CheckResult.fail(instance, check, what + " " + at + ": connected, but no response within " + timeout.toMillis() + " ms",
                    "the instance is stuck or overloaded: read its log (or raise --timeout-ms)");
        }
        if (e instanceof ConnectException || e instanceof PortUnreachableException) {
            return CheckResult.fail(instance, check, what + " " + at + " refused", at + " refused: " + refusedFix);
        }
        return CheckResult.fail(instance, check, what + " " + at + ": " + describe(e),
                "check that the instance on " + host + " is up and listening on port " + port);
    }

    static String describe(IOException e) {
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
}
