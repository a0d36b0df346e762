package dev.pdserve.proxy;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/** Where an upstream instance listens: {@code host:port} (IPv6 literals as {@code [::1]:8000}). */
public record InstanceAddress(String host, int port) {

    /** A DNS name (RFC 1123 labels) or an IPv4 literal; IPv6 literals are checked apart. */
    private static final java.util.regex.Pattern HOST_NAME =
            java.util.regex.Pattern.compile("(?i)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*");
    private static final java.util.regex.Pattern IPV6 = java.util.regex.Pattern.compile("(?i)[0-9a-f:.]+(%[a-z0-9]+)?");

    public InstanceAddress {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("empty host");
        if (port < 1 || port > 65535) throw new IllegalArgumentException("port out of range: " + port);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        // Strict: a path, a scheme or brackets in the wrong place would otherwise reach the URI the proxy builds.
        boolean ok = host.contains(":") ? IPV6.matcher(host).matches() && host.indexOf(':') != host.lastIndexOf(':')
                : host.length() <= 253 && HOST_NAME.matcher(host).matches();
        if (!ok) throw new IllegalArgumentException("host '" + host + "' is not a host name or an IP address (give host:port, no scheme or path)");
    }

    /** Parses {@code host:port}; the message says what was wrong so admin API callers can fix it. */
    public static InstanceAddress parse(String s) {
        String t = s == null ? "" : s.trim();
        int colon = t.lastIndexOf(':');
        if (colon <= 0 || colon == t.length() - 1) throw new IllegalArgumentException("instance '" + s + "' is not host:port");
        try {
            return new InstanceAddress(t.substring(0, colon), Integer.parseInt(t.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("instance '" + s + "' has a port that is not a number");
        }
    }

    /**
     * Pairs {@code --X-hosts} with {@code --X-ports} as vllm-ascend's proxy does (zip), and also expands one
     * host with several ports (and several hosts with one port).
     */
    public static List<InstanceAddress> expand(List<String> hosts, List<Integer> ports, String what) {
        List<InstanceAddress> out = new ArrayList<>();
        if (hosts.size() == ports.size()) {
            for (int i = 0; i < hosts.size(); i++) out.add(new InstanceAddress(hosts.get(i), ports.get(i)));
        } else if (hosts.size() == 1) {
            for (int p : ports) out.add(new InstanceAddress(hosts.getFirst(), p));
        } else if (ports.size() == 1) {
            for (String h : hosts) out.add(new InstanceAddress(h, ports.getFirst()));
        } else {
            throw new IllegalArgumentException("number of " + what + " hosts (" + hosts.size()
                    + ") must match number of " + what + " ports (" + ports.size() + "), or one of them must be single");
        }
        return out;
    }

    /** Same instance whichever way it was written ("localhost" and "127.0.0.1" are one host). */
    public boolean sameAs(InstanceAddress o) {
        return port == o.port && normalized(host).equals(normalized(o.host));
    }

    private static String normalized(String h) {
        String l = h.toLowerCase(java.util.Locale.ROOT);
        return l.equals("localhost") ? "127.0.0.1" : l;
    }

    public URI uri(String path) {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return URI.create("http://" + h + ":" + port + path);
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
