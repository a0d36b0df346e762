package dev.pdserve.proxy;

/** The two kinds of upstream instance a PD request passes through (the admin API's {@code "type"}). */
public enum InstanceType {
    PREFILL("prefill"),
    DECODE("decode");

    private final String label;

    InstanceType(String label) {
        this.label = label;
    }

    /** The name used on the wire: admin API {@code "type"}, /healthcheck keys, metric tags. */
    public String label() {
        return label;
    }

    public static InstanceType fromLabel(String s) {
        for (InstanceType r : values()) if (r.label.equals(s)) return r;
        throw new IllegalArgumentException("instance type '" + s + "' is not supported: use 'prefill' or 'decode'");
    }
}
