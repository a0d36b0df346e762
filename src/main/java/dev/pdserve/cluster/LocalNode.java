package dev.pdserve.cluster;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/** This machine's network interfaces: which addresses are ours, and the address of a named card. */
public final class LocalNode {
    private LocalNode() {}

    /** Every address on an interface that is up, loopback included. */
    public static List<InetAddress> addresses() {
        List<InetAddress> out = new ArrayList<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (nic.isUp()) out.addAll(Collections.list(nic.getInetAddresses()));
            }
        } catch (SocketException e) {
            throw new IllegalStateException("cannot list this node's network interfaces: " + e.getMessage(), e);
        }
        return out;
    }

    /** Whether {@code address} is assigned to one of this node's interfaces. */
    public static boolean isLocal(InetAddress address) {
        return address.isLoopbackAddress() || address.isAnyLocalAddress() || addresses().contains(address);
    }

    /** Resolves a host name or IP literal; empty when it does not resolve. */
    public static Optional<InetAddress> resolve(String host) {
        try {
            return Optional.of(InetAddress.getByName(host));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    /** Whether {@code host} names this node. */
    public static boolean isLocal(String host) {
        return resolve(host).map(LocalNode::isLocal).orElse(false);
    }

    /**
     * The address of network card {@code name} (IPv4 preferred, as vllm-ascend's HCCL_IF_IP is), for
     * {@code ranktable --network-card-name}. The error lists the cards that exist.
     */
    public static String addressOfInterface(String name) {
        NetworkInterface nic;
        try {
            nic = NetworkInterface.getByName(name);
        } catch (SocketException e) {
            throw new IllegalArgumentException("cannot read network card " + name + ": " + e.getMessage(), e);
        }
        if (nic == null) {
            throw new IllegalArgumentException("no network card named \"" + name + "\" on this node; cards here: " + interfaceNames());
        }
        List<InetAddress> addrs = Collections.list(nic.getInetAddresses());
        return addrs.stream().filter(a -> a instanceof Inet4Address).findFirst()
                .or(() -> addrs.stream().filter(a -> !a.isLinkLocalAddress()).findFirst())
                .map(LocalNode::literal)
                .orElseThrow(() -> new IllegalArgumentException("network card \"" + name + "\" has no usable IP address"));
    }

    /** The interface (up or not) that owns {@code address}, for naming it in tests and messages. */
    public static Optional<String> interfaceOf(InetAddress address) {
        try {
            return Optional.ofNullable(NetworkInterface.getByInetAddress(address)).map(NetworkInterface::getName);
        } catch (SocketException e) {
            return Optional.empty();
        }
    }

    static String literal(InetAddress a) {
        String s = a.getHostAddress();
        int scope = s.indexOf('%'); // drop an IPv6 scope id: it is meaningless on another node
        return scope >= 0 ? s.substring(0, scope) : s;
    }

    private static String interfaceNames() {
        try {
            return String.join(", ", Collections.list(NetworkInterface.getNetworkInterfaces()).stream().map(NetworkInterface::getName).sorted().toList());
        } catch (SocketException e) {
            return "(cannot list: " + e.getMessage() + ")";
        }
    }
}
