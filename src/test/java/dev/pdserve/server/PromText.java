package dev.pdserve.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A Prometheus text exposition read back into samples, for the metrics tests. */
record PromText(List<Sample> samples) {
    private static final Pattern LINE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{([^}]*)})? (\\S+)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    record Sample(String name, Map<String, String> labels, double value) {}

    /** One histogram's cumulative buckets (le as written, +Inf last), count and sum. */
    record Histogram(List<String> les, List<Double> cumulative, double count, double sum) {}

    static PromText parse(String text) {
        List<Sample> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) continue;
            Matcher m = LINE.matcher(line);
            if (!m.matches()) throw new AssertionError("not a sample line: " + line);
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(2) != null) {
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) labels.put(l.group(1), l.group(2));
            }
            out.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(3).replace("+Inf", "Infinity"))));
        }
        return new PromText(out);
    }

    boolean has(String name) {
        return samples.stream().anyMatch(s -> s.name().equals(name));
    }

    double value(String name) {
        return samples.stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no sample " + name)).value();
    }

    Histogram histogram(String name) {
        List<String> les = new ArrayList<>();
        List<Double> counts = new ArrayList<>();
        for (Sample s : samples) {
            if (s.name().equals(name + "_bucket")) {
                les.add(s.labels().get("le"));
                counts.add(s.value());
            }
        }
        if (les.isEmpty()) throw new AssertionError("no histogram " + name);
        return new Histogram(les, counts, value(name + "_count"), value(name + "_sum"));
    }

    /** Names of the histograms (families with _bucket samples), in order. */
    List<String> histograms() {
        List<String> names = new ArrayList<>();
        for (Sample s : samples) {
            if (!s.name().endsWith("_bucket")) continue;
            String n = s.name().substring(0, s.name().length() - "_bucket".length());
            if (!names.contains(n)) names.add(n);
        }
        return names;
    }
}
