package dev.pdserve;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * docs/design.md's Layout section is the code's: every package of src/main has a bullet and no other,
 * the classes it names exist, and its dependency block is exactly the packages' imports, in an order
 * where each uses only those above it (so they depend one way). README's Layout names every package.
 * When this fails, each line of the message says what to change.
 */
class DesignDocTest {
    private static final SourcePackages MAIN = SourcePackages.scan(TestModels.repo().resolve("src/main/java"));

    @Test
    void designLayoutAndDependenciesMatchSrcMain() throws IOException {
        String design = Files.readString(TestModels.repo().resolve(DesignDoc.FILE));
        report(DesignDoc.parse(design).check(MAIN));
    }

    @Test
    void readmeLayoutNamesEveryPackage() throws IOException {
        String readme = Files.readString(TestModels.repo().resolve("README.md"));
        report(DesignDoc.unnamedIn(readme, "README.md", "## Layout", MAIN));
    }

    @Test
    void srcMainIsWhatTheScannerSees() {
        // Guards the scanner itself: if it read nothing, the checks above would pass on an empty tree.
        assertThat(MAIN.packages()).containsKeys("engine", "kv", "server", "model.checkpoint");
        assertThat(MAIN.packages().get("kv").uses()).containsKey("engine");
        assertThat(MAIN.packages().get("engine").types()).contains("Engine", "Scheduler");
    }

    // The checks on a made-up tree, so that each kind of drift is shown to be caught and named.

    private static final SourcePackages TREE = SourcePackages.of(Map.of(
            "low", Map.of("Base.java", "package dev.pdserve.low;\npublic final class Base { record Part() {} }\n"),
            "mid", Map.of("Middle.java", """
                    package dev.pdserve.mid;
                    import dev.pdserve.low.Base;
                    // dev.pdserve.top.Top in a comment is no use
                    final class Middle { String s = "dev.pdserve.top.Top"; }
                    """),
            "top", Map.of("Top.java", """
                    package dev.pdserve.top;
                    import static dev.pdserve.mid.Middle.*;
                    final class Top { Object o = new dev.pdserve.low.Base(); }
                    """)));

    private static String doc(String bullets, String deps) {
        return "# x\n## Layout\n" + bullets + "\n```\n" + deps + "\n```\nprose `Nope` outside bullets\n## Next\n- `ghost`: `Ghost`\n";
    }

    private static final String GOOD_BULLETS = """
            - `low`: the base (`Base`, `Base.Part`)
            - `dev.pdserve.mid`: the middle, `Middle`, over
              `low.Base`; `config.json` is prose
            - `top`: `Top`
            """;

    @Test
    void aTrueLayoutPasses() {
        assertThat(DesignDoc.parse(doc(GOOD_BULLETS, "low → nothing\nmid -> low\ntop → low,\n    mid")).check(TREE)).isEmpty();
    }

    @Test
    void missingAndUnknownPackagesAndClassesAreNamed() {
        String bullets = """
                - `low`: `Base`, `Sequence`, `Base.Gone`
                - `mid`: `top.Nope`, `net.TcpPeer`
                - `net`: `TcpPeer`
                - `top`: prose only
                """;
        assertThat(DesignDoc.parse(doc(bullets, "low → nothing\nmid → low\ntop → low, mid")).check(TREE)).containsExactly(
                "docs/design.md, Layout, bullet `low`: `Sequence` is not a class of dev.pdserve.low (no Sequence.java there): rename or remove it; its classes: Base",
                "docs/design.md, Layout, bullet `low`: `Base.Gone` is not a class of dev.pdserve.low (Base.java declares no Gone): rename or remove it; its classes: Base",
                "docs/design.md, Layout, bullet `mid`: `top.Nope` is not a class of dev.pdserve.top (no Nope.java there): rename or remove it; its classes: Top",
                "docs/design.md, Layout, bullet `mid`: `net.TcpPeer` names package `net`, which does not exist: fix or remove it",
                "docs/design.md, Layout: the bullet `net` names no package under src/main/java/dev/pdserve (packages: low, mid, top): rename or remove it",
                "docs/design.md, Layout: the bullet `top` names no class; name its main classes in backticks (it has Top)");
        assertThat(DesignDoc.parse(doc("- `low`: `Base`", "low → nothing")).check(TREE)).containsExactly(
                "docs/design.md, Layout: package `mid` (src/main/java/dev/pdserve/mid) has no bullet; add \"- `mid`: what it holds\", naming its main classes in backticks (it has Middle), and a line for it in the dependency block",
                "docs/design.md, Layout: package `top` (src/main/java/dev/pdserve/top) has no bullet; add \"- `top`: what it holds\", naming its main classes in backticks (it has Top), and a line for it in the dependency block",
                "docs/design.md, dependency block: `mid` has no line; add `mid → low` below the packages it uses",
                "docs/design.md, dependency block: `top` has no line; add `top → low, mid` below the packages it uses");
    }

    @Test
    void wrongArrowsAndOrderAreNamedWithTheLineToWrite() {
        // top's use of mid is a static import, its use of low a qualified name in code; mid's mentions of top
        // in a comment and a string are not uses.
        assertThat(DesignDoc.parse(doc(GOOD_BULLETS, "low → nothing\ntop → mid\nmid → top, low\n")).check(TREE)).containsExactly(
                "docs/design.md, dependency block: the line `top → mid` is wrong: it uses `low` (Top.java). Change it to `top → mid, low`",
                "docs/design.md, dependency block: `top` uses `mid`, whose line comes below it; order the lines so that each package uses only packages above it (move `mid` up)",
                "docs/design.md, dependency block: the line `mid → top, low` is wrong: nothing in it uses dev.pdserve.top. Change it to `mid → low`");
    }

    @Test
    void aCycleOfImportsIsNamed() {
        SourcePackages cyclic = SourcePackages.of(Map.of(
                "a", Map.of("A.java", "package dev.pdserve.a;\nimport dev.pdserve.b.B;\nclass A {}"),
                "b", Map.of("B.java", "package dev.pdserve.b;\nimport dev.pdserve.a.*;\nclass B {}")));
        List<String> problems = DesignDoc.parse(doc("- `a`: `A`\n- `b`: `B`", "a → b\nb → a")).check(cyclic);
        assertThat(problems).containsExactly("src/main: the packages use each other in a cycle, a → b → a; packages depend one way: "
                + "break it (e.g. an interface in the lower package, as engine.KvConnector is for kv)");
    }

    @Test
    void unreadableLinesAndAReadmeWithoutAPackageAreNamed() {
        assertThat(DesignDoc.parse(doc(GOOD_BULLETS, "low → nothing\nmid uses low\nmid → low\ntop → low, mid")).check(TREE)).containsExactly(
                "docs/design.md, Layout: cannot read the dependency line \"mid uses low\": write it as `engine → model, tokenizer`");
        assertThat(DesignDoc.unnamedIn("## Layout\n`low`, `dev.pdserve.mid` and top\n## Other\n`top`", "README.md", "## Layout", TREE))
                .containsExactly("README.md, section ## Layout: package `top` is not named; add `top` (what it holds)");
    }

    private static void report(List<String> problems) {
        if (!problems.isEmpty()) fail(problems.size() + " thing(s) to change:\n" + String.join("\n", problems));
    }
}
