package dev.pdserve.cluster;

/**
 * One row of {@code pdserve doctor}: which instance, which check, the verdict, what was seen and,
 * for a FAIL, the fix to make.
 */
public record CheckResult(String instance, String check, Status status, String detail, String fix) {
    public enum Status { PASS, FAIL, SKIP }

    public static CheckResult pass(String instance, String check, String detail) {
        return new CheckResult(instance, check, Status.PASS, detail, "");
    }

    public static CheckResult fail(String instance, String check, String detail, String fix) {
        return new CheckResult(instance, check, Status.FAIL, detail, fix);
    }

    public static CheckResult skip(String instance, String check, String detail) {
        return new CheckResult(instance, check, Status.SKIP, detail, "");
    }
}
