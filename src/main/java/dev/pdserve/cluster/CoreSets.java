package dev.pdserve.cluster;

import java.util.ArrayList;
import java.util.List;

/** Splits a node's cores into contiguous Linux cpu lists, one per instance ("device") on that node. */
public final class CoreSets {
    private CoreSets() {}

    /**
     * {@code cores} cores into {@code parts} contiguous sets; when they do not divide evenly the first
     * sets get one core more (10 into 4: "0-2", "3-5", "6-7", "8-9").
     */
    public static List<String> split(int cores, int parts) {
        if (parts < 1) throw new IllegalArgumentException("parts must be >= 1, got " + parts);
        if (cores < parts) throw new IllegalArgumentException(cores + " cores cannot give " + parts + " instances a core each");
        List<String> out = new ArrayList<>(parts);
        int next = 0;
        for (int i = 0; i < parts; i++) {
            int size = cores / parts + (i < cores % parts ? 1 : 0);
            out.add(size == 1 ? Integer.toString(next) : next + "-" + (next + size - 1));
            next += size;
        }
        return out;
    }

    /** How many cores a cpu list like "0-3,8" names. */
    public static int count(String coreSet) {
        int n = 0;
        for (String part : coreSet.split(",")) {
            int dash = part.indexOf('-');
            n += dash < 0 ? 1 : Integer.parseInt(part.substring(dash + 1)) - Integer.parseInt(part.substring(0, dash)) + 1;
        }
        return n;
    }
}
