package dev.pdserve;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The packages under {@code dev.pdserve} in one source root, as {@link DesignDoc} compares them with
 * docs/design.md: each package's types and which other packages its code uses. A use is an import or
 * a fully qualified name in code ({@code dev.pdserve.cluster.CoreSets.count(...)}); names in comments
 * and string literals are not uses.
 *
 * @param packages by name relative to {@code dev.pdserve}, e.g. {@code model.checkpoint}
 */
record SourcePackages(SortedMap<String, Package> packages) {
    static final String BASE = "dev.pdserve";

    /**
     * @param types top-level types (file names) and nested ones as {@code Outer.Inner}
     * @param uses  other packages this one uses, each with the files that use it
     */
    record Package(String name, SortedSet<String> types, SortedMap<String, SortedSet<String>> uses) {}

    private static final Pattern QUALIFIED = Pattern.compile("\\bdev\\.pdserve\\.((?:[a-z_][a-z0-9_]*\\.)+)(?=[A-Z*])");
    private static final Pattern DECLARATION = Pattern.compile("\\b(?:class|record|interface|enum)\\s+([A-Z][A-Za-z0-9_]*)");

    /** Reads every {@code .java} file under {@code root/dev/pdserve}. */
    static SourcePackages scan(Path root) {
        Path base = root.resolve(BASE.replace('.', '/'));
        Map<String, Map<String, String>> sources = new TreeMap<>(); // package -> file name -> code
        try (Stream<Path> files = Files.walk(base)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String pkg = base.relativize(f.getParent()).toString().replace('/', '.');
                if (pkg.isEmpty()) continue; // nothing lives in dev.pdserve itself
                sources.computeIfAbsent(pkg, k -> new TreeMap<>()).put(f.getFileName().toString(), Files.readString(f));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return of(sources);
    }

    /** The same from sources in memory: package -> file name ({@code X.java}) -> its text. */
    static SourcePackages of(Map<String, Map<String, String>> sources) {
        SortedMap<String, Package> packages = new TreeMap<>();
        for (String pkg : sources.keySet()) packages.put(pkg, new Package(pkg, new TreeSet<>(), new TreeMap<>()));
        sources.forEach((pkg, files) -> files.forEach((file, text) -> {
            Package p = packages.get(pkg);
            String type = file.replaceFirst("\\.java$", "");
            p.types().add(type);
            String code = codeOnly(text);
            Matcher d = DECLARATION.matcher(code);
            while (d.find()) if (!d.group(1).equals(type)) p.types().add(type + "." + d.group(1));
            Matcher q = QUALIFIED.matcher(code);
            while (q.find()) {
                String used = owningPackage(q.group(1), packages.keySet());
                if (used != null && !used.equals(pkg)) p.uses().computeIfAbsent(used, k -> new TreeSet<>()).add(file);
            }
        }));
        return new SourcePackages(packages);
    }

    /** The longest known package that {@code segments} ("model.checkpoint.") starts with. */
    private static String owningPackage(String segments, Set<String> known) {
        String s = segments.substring(0, segments.length() - 1);
        while (!known.contains(s)) {
            int dot = s.lastIndexOf('.');
            if (dot < 0) return null;
            s = s.substring(0, dot);
        }
        return s;
    }

    /** {@code src} with comments and string, text-block and char literals blanked out. */
    static String codeOnly(String src) {
        StringBuilder out = new StringBuilder(src.length());
        int i = 0, n = src.length();
        while (i < n) {
            char c = src.charAt(i);
            if (src.startsWith("//", i)) {
                while (i < n && src.charAt(i) != '\n') i++;
            } else if (src.startsWith("/*", i)) {
                int end = src.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                out.append(' ');
            } else if (src.startsWith("\"\"\"", i)) {
                int end = src.indexOf("\"\"\"", i + 3);
                while (end > 0 && src.charAt(end - 1) == '\\') end = src.indexOf("\"\"\"", end + 1);
                i = end < 0 ? n : end + 3;
                out.append("\"\"");
            } else if (c == '"' || c == '\'') {
                i++;
                while (i < n && src.charAt(i) != c && src.charAt(i) != '\n') i += src.charAt(i) == '\\' ? 2 : 1;
                i++;
                out.append(c).append(c);
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
