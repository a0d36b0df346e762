package dev.pdserve;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The "Layout" section of docs/design.md, read the way {@link DesignDocTest} checks it, and the checks
 * themselves. The section holds:
 * <ul>
 *   <li>one bullet per package, {@code - `engine`: what it holds ...}, possibly wrapped onto indented
 *   lines; every backticked name that starts with a capital ({@code `Scheduler`}, {@code `Sampler`})
 *   is a class of that package, and {@code `kv.KvProbe`} one of another package; other backticked
 *   text ({@code `config.json`}) is prose;</li>
 *   <li>a fenced block, the section's first, of lines {@code engine → model, tokenizer} (or {@code ->}; {@code nothing}
 *   for no imports; an indented line without an arrow continues the list above), in an order where
 *   each package imports only packages above it.</li>
 * </ul>
 * Every problem is one line saying what to change.
 */
final class DesignDoc {
    static final String FILE = "docs/design.md";

    record Entry(String pkg, List<String> classRefs) {}

    record Dependency(String pkg, List<String> targets) {
        String line() {
            return "`" + pkg + " → " + (targets.isEmpty() ? "nothing" : String.join(", ", targets)) + "`";
        }
    }

    final List<Entry> entries = new ArrayList<>();
    final List<Dependency> dependencies = new ArrayList<>();
    final List<String> problems = new ArrayList<>();

    private static final Pattern BULLET = Pattern.compile("^- `(?:dev\\.pdserve\\.)?([a-z][a-z0-9]*(?:\\.[a-z][a-z0-9]*)*)`(.*)$");
    private static final Pattern BACKTICKED = Pattern.compile("`([^`]+)`");
    private static final Pattern CLASS_REF = Pattern.compile("^(?:dev\\.pdserve\\.)?((?:[a-z][a-z0-9]*\\.)*)([A-Z][A-Za-z0-9_]*(?:\\.[A-Z][A-Za-z0-9_]*)*)$");
    private static final Pattern ARROW = Pattern.compile("^\\s*(?:dev\\.pdserve\\.)?([a-z][a-z0-9.]*)\\s*(?:→|->)\\s*(.*)$");

    private DesignDoc() {}

    /** Reads the section of {@code markdown} whose heading starts with {@code ## Layout}. */
    static DesignDoc parse(String markdown) {
        DesignDoc doc = new DesignDoc();
        List<String> section = section(markdown, "## Layout");
        if (section == null) {
            doc.problems.add(FILE + ": no section starting with `## Layout`; it must list the packages and their imports");
            return doc;
        }
        boolean inFence = false;
        int fences = 0;
        StringBuilder bullet = null;
        for (String line : section) {
            if (line.startsWith("```")) {
                if (bullet != null) doc.readEntry(bullet.toString());
                bullet = null;
                inFence = !inFence;
                if (inFence) fences++;
                continue;
            }
            if (inFence) {
                if (fences == 1) doc.readDependencyLine(line);
                continue;
            }
            if (bullet != null && !line.isBlank() && Character.isWhitespace(line.charAt(0))) {
                bullet.append(' ').append(line.trim());
                continue;
            }
            if (bullet != null) doc.readEntry(bullet.toString());
            bullet = line.startsWith("- `") ? new StringBuilder(line) : null;
        }
        if (bullet != null) doc.readEntry(bullet.toString());
        if (doc.entries.isEmpty()) doc.problems.add(FILE + ", Layout: no package bullets (lines like \"- `engine`: ...\")");
        if (doc.dependencies.isEmpty()) doc.problems.add(FILE + ", Layout: no dependency block (a ``` block of lines like `engine → model, tokenizer`)");
        return doc;
    }

    /** The lines under the first heading that starts with {@code heading}, up to the next {@code ## }. */
    static List<String> section(String markdown, String heading) {
        List<String> lines = markdown.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).startsWith(heading)) continue;
            int end = i + 1;
            while (end < lines.size() && !lines.get(end).startsWith("## ")) end++;
            return lines.subList(i + 1, end);
        }
        return null;
    }

    private void readEntry(String text) {
        Matcher m = BULLET.matcher(text);
        if (!m.matches()) {
            problems.add(FILE + ", Layout: cannot read the bullet \"" + text + "\": start it with the package in backticks, \"- `engine`: ...\"");
            return;
        }
        List<String> refs = new ArrayList<>();
        Matcher b = BACKTICKED.matcher(m.group(2));
        while (b.find()) if (CLASS_REF.matcher(b.group(1)).matches()) refs.add(b.group(1).replaceFirst("^dev\\.pdserve\\.", ""));
        entries.add(new Entry(m.group(1), refs));
    }

    private void readDependencyLine(String line) {
        if (line.isBlank()) return;
        Matcher m = ARROW.matcher(line);
        String list;
        if (m.matches()) {
            dependencies.add(new Dependency(m.group(1), new ArrayList<>()));
            list = m.group(2);
        } else if (Character.isWhitespace(line.charAt(0)) && !dependencies.isEmpty()) {
            list = line;
        } else {
            problems.add(FILE + ", Layout: cannot read the dependency line \"" + line + "\": write it as `engine → model, tokenizer`");
            return;
        }
        List<String> targets = dependencies.getLast().targets();
        for (String t : list.split("[,\\s]+")) {
            if (t.isEmpty() || t.equals("nothing")) continue;
            targets.add(t.replaceFirst("^dev\\.pdserve\\.", ""));
        }
    }

    /** Everything in this section that disagrees with {@code src}: parse problems first. */
    List<String> check(SourcePackages src) {
        List<String> out = new ArrayList<>(problems);
        checkEntries(src, out);
        checkDependencies(src, out);
        return out;
    }

    private void checkEntries(SourcePackages src, List<String> out) {
        Set<String> listed = new LinkedHashSet<>();
        for (Entry e : entries) {
            if (!listed.add(e.pkg())) out.add(FILE + ", Layout: `" + e.pkg() + "` has two bullets; keep one");
            SourcePackages.Package p = src.packages().get(e.pkg());
            if (p == null) {
                out.add(FILE + ", Layout: the bullet `" + e.pkg() + "` names no package under src/main/java/dev/pdserve"
                        + " (packages: " + String.join(", ", src.packages().keySet()) + "): rename or remove it");
                continue;
            }
            if (e.classRefs().isEmpty()) {
                out.add(FILE + ", Layout: the bullet `" + e.pkg() + "` names no class; name its main classes in backticks (it has "
                        + topLevel(p) + ")");
            }
            for (String ref : e.classRefs()) {
                Matcher m = CLASS_REF.matcher(ref);
                if (!m.matches()) throw new IllegalStateException(ref);
                String pkg = m.group(1).isEmpty() ? e.pkg() : m.group(1).substring(0, m.group(1).length() - 1);
                String type = m.group(2);
                SourcePackages.Package owner = src.packages().get(pkg);
                if (owner == null) {
                    out.add(FILE + ", Layout, bullet `" + e.pkg() + "`: `" + ref + "` names package `" + pkg
                            + "`, which does not exist: fix or remove it");
                } else if (!owner.types().contains(type)) {
                    String outer = type.replaceFirst("\\..*", "");
                    String missing = owner.types().contains(outer) ? outer + ".java declares no " + type.substring(outer.length() + 1)
                            : "no " + outer + ".java there";
                    out.add(FILE + ", Layout, bullet `" + e.pkg() + "`: `" + ref + "` is not a class of dev.pdserve." + pkg
                            + " (" + missing + "): rename or remove it; its classes: " + topLevel(owner));
                }
            }
        }
        for (String pkg : src.packages().keySet()) {
            if (!listed.contains(pkg)) {
                out.add(FILE + ", Layout: package `" + pkg + "` (src/main/java/dev/pdserve/" + pkg.replace('.', '/')
                        + ") has no bullet; add \"- `" + pkg + "`: what it holds\", naming its main classes in backticks (it has "
                        + topLevel(src.packages().get(pkg)) + "), and a line for it in the dependency block");
            }
        }
    }

    private void checkDependencies(SourcePackages src, List<String> out) {
        Map<String, Integer> position = new LinkedHashMap<>();
        for (Dependency d : dependencies) {
            if (position.putIfAbsent(d.pkg(), position.size()) != null) {
                out.add(FILE + ", dependency block: `" + d.pkg() + "` has two lines; keep one");
            }
        }
        List<String> cycle = cycle(src);
        if (!cycle.isEmpty()) {
            out.add("src/main: the packages use each other in a cycle, " + String.join(" → ", cycle)
                    + "; packages depend one way: break it (e.g. an interface in the lower package, as engine.KvConnector is for kv)");
        }
        for (Dependency d : dependencies) {
            SourcePackages.Package p = src.packages().get(d.pkg());
            if (p == null) {
                out.add(FILE + ", dependency block: the line " + d.line() + " names no package under src/main/java/dev/pdserve: rename or remove it");
                continue;
            }
            Set<String> documented = new LinkedHashSet<>(d.targets());
            Set<String> actual = p.uses().keySet();
            List<String> why = new ArrayList<>();
            for (String t : actual) {
                if (!documented.contains(t)) why.add("it uses `" + t + "` (" + String.join(", ", p.uses().get(t)) + ")");
            }
            for (String t : documented) {
                if (!actual.contains(t)) {
                    why.add(src.packages().containsKey(t) ? "nothing in it uses dev.pdserve." + t : "`" + t + "` is no package");
                }
            }
            if (!why.isEmpty()) {
                List<String> fixed = new ArrayList<>(d.targets().stream().filter(actual::contains).distinct().toList());
                for (String t : actual) if (!fixed.contains(t)) fixed.add(t);
                out.add(FILE + ", dependency block: the line " + d.line() + " is wrong: " + String.join("; ", why)
                        + ". Change it to " + new Dependency(d.pkg(), fixed).line());
            }
            for (String t : cycle.isEmpty() ? actual : Set.<String>of()) {
                Integer at = position.get(t);
                if (at != null && at > position.get(d.pkg())) {
                    out.add(FILE + ", dependency block: `" + d.pkg() + "` uses `" + t + "`, whose line comes below it"
                            + "; order the lines so that each package uses only packages above it (move `" + t + "` up)");
                }
            }
        }
        for (String pkg : src.packages().keySet()) {
            if (!position.containsKey(pkg)) {
                out.add(FILE + ", dependency block: `" + pkg + "` has no line; add "
                        + new Dependency(pkg, List.copyOf(src.packages().get(pkg).uses().keySet())).line()
                        + " below the packages it uses");
            }
        }
    }

    /** A cycle of package uses, first package repeated at the end, or empty. */
    static List<String> cycle(SourcePackages src) {
        Map<String, Integer> state = new LinkedHashMap<>(); // 1 on the path, 2 done
        List<String> path = new ArrayList<>();
        for (String start : src.packages().keySet()) {
            List<String> found = visit(start, src, state, path);
            if (!found.isEmpty()) return found;
        }
        return List.of();
    }

    private static List<String> visit(String pkg, SourcePackages src, Map<String, Integer> state, List<String> path) {
        Integer s = state.get(pkg);
        if (s != null && s == 2) return List.of();
        if (s != null) {
            List<String> c = new ArrayList<>(path.subList(path.indexOf(pkg), path.size()));
            c.add(pkg);
            return c;
        }
        state.put(pkg, 1);
        path.add(pkg);
        SourcePackages.Package p = src.packages().get(pkg);
        if (p != null) {
            for (String next : p.uses().keySet()) {
                List<String> found = visit(next, src, state, path);
                if (!found.isEmpty()) return found;
            }
        }
        path.removeLast();
        state.put(pkg, 2);
        return List.of();
    }

    /** Packages that the README's section {@code heading} does not name in backticks. */
    static List<String> unnamedIn(String markdown, String file, String heading, SourcePackages src) {
        List<String> section = section(markdown, heading);
        if (section == null) return List.of(file + ": no section `" + heading + "`; it must name every package");
        SortedSet<String> named = new TreeSet<>();
        Matcher b = BACKTICKED.matcher(String.join("\n", section));
        while (b.find()) named.add(b.group(1).replaceFirst("^dev\\.pdserve\\.", ""));
        List<String> out = new ArrayList<>();
        for (String pkg : src.packages().keySet()) {
            if (!named.contains(pkg)) out.add(file + ", section " + heading + ": package `" + pkg + "` is not named; add `" + pkg + "` (what it holds)");
        }
        return out;
    }

    private static String topLevel(SourcePackages.Package p) {
        return String.join(", ", p.types().stream().filter(t -> !t.contains(".")).toList());
    }
}
