package dev.pdserve.cluster;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Doctor's cross-instance checks (version, model): everyone must give the same answer. */
final class Agreement {
    private Agreement() {}

    /** One instance's answer, or (when it gave none) the row that says why. */
    record Answer(String instance, Optional<String> value, CheckResult failure) {}

    /**
     * One row per instance: PASS for those holding the value most instances hold, FAIL for the others.
     * With no strict majority (e.g. one prefill and one decode disagreeing) nobody can tell who is wrong: all FAIL.
     */
    static List<CheckResult> rows(String check, List<Answer> answers, String fix) {
        Map<String, List<String>> holders = new LinkedHashMap<>();
        for (Answer a : answers) a.value().ifPresent(v -> holders.computeIfAbsent(v, k -> new ArrayList<>()).add(a.instance()));
        int top = holders.values().stream().mapToInt(List::size).max().orElse(0);
        List<String> tops = holders.entrySet().stream().filter(e -> e.getValue().size() == top).map(Map.Entry::getKey).toList();
        Optional<String> majority = tops.size() == 1 ? Optional.of(tops.getFirst()) : Optional.empty();
        List<CheckResult> out = new ArrayList<>();
        for (Answer a : answers) {
            if (a.value().isEmpty()) {
                out.add(a.failure());
                continue;
            }
            String v = a.value().get();
            if (holders.size() == 1) {
                out.add(CheckResult.pass(a.instance(), check, v + " (all " + top + " answering instances agree)"));
            } else if (majority.isPresent() && majority.get().equals(v)) {
                out.add(CheckResult.pass(a.instance(), check, v + " (as most instances; differing: " + others(holders, v) + ")"));
            } else {
                out.add(CheckResult.fail(a.instance(), check, v + ", but " + others(holders, v),
                        fix + " (" + check + "s seen: " + String.join(" | ", holders.keySet()) + ")"));
            }
        }
        return out;
    }

    private static String others(Map<String, List<String>> holders, String mine) {
        List<String> parts = new ArrayList<>();
        holders.forEach((v, ids) -> {
            if (!v.equals(mine)) parts.add(String.join(", ", ids) + (ids.size() == 1 ? " has " : " have ") + v);
        });
        return String.join("; ", parts);
    }
}
