package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/** Doctor's findings: a table for people, JSON for scripts, and the exit code (1 when anything failed). */
public record DoctorReport(List<CheckResult> results) {
    public DoctorReport {
        results = List.copyOf(results);
    }

    public long count(CheckResult.Status status) {
        return results.stream().filter(r -> r.status() == status).count();
    }

    /** SKIPs do not fail the run, but they are counted in the summary so nothing passes silently. */
    public int exitCode() {
        return count(CheckResult.Status.FAIL) > 0 ? 1 : 0;
    }

    public String summary() {
        return results.size() + " checks: " + count(CheckResult.Status.PASS) + " PASS, "
                + count(CheckResult.Status.FAIL) + " FAIL, " + count(CheckResult.Status.SKIP) + " SKIP";
    }

    /** One row per check; under each FAIL, the fix. */
    public String table() {
        int wi = "INSTANCE".length(), wc = "CHECK".length();
        for (CheckResult r : results) {
            wi = Math.max(wi, r.instance().length());
            wc = Math.max(wc, r.check().length());
        }
        String row = "%-" + wi + "s  %-" + wc + "s  %-6s %s%n";
        StringBuilder sb = new StringBuilder(String.format(row, "INSTANCE", "CHECK", "STATUS", "DETAIL"));
        for (CheckResult r : results) {
            sb.append(String.format(row, r.instance(), r.check(), r.status(), r.detail()));
            if (r.status() == CheckResult.Status.FAIL) sb.append(" ".repeat(wi + 2)).append("fix: ").append(r.fix()).append('\n');
        }
        return sb.append(summary()).append('\n').toString();
    }

    public String json() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("ok", exitCode() == 0);
        ObjectNode sum = root.putObject("summary");
        sum.put("pass", count(CheckResult.Status.PASS));
        sum.put("fail", count(CheckResult.Status.FAIL));
        sum.put("skip", count(CheckResult.Status.SKIP));
        ArrayNode checks = root.putArray("checks");
        for (CheckResult r : results) {
            ObjectNode n = checks.addObject();
            n.put("instance", r.instance());
            n.put("check", r.check());
            n.put("status", r.status().name());
            n.put("detail", r.detail());
            if (r.status() == CheckResult.Status.FAIL) n.put("fix", r.fix());
        }
        try {
            return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
