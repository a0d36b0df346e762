package dev.pdserve.proxy;

/** The two kinds of upstream instance a PD request passes through. */
public enum Role {
    PREFILL("prefill"),
    DECODE("decode");

    private final String label;

    Role(String label) {
        this.label = label;
    }

    /** The name used on the wire: admin API {@code "type"}, /healthcheck keys, metric tags. */
    public String label() {
        return label;
    }

    public static Role fromLabel(String s) {
        for (Role r : values()) if (r.label.equals(s)) return r;
        throw new IllegalArgumentException("instance type '" + s + "' is not supported: use 'prefill' or 'decode'");
    }
}
