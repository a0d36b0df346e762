package dev.pdserve.launch;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What a newcomer types first: `pdserve` alone, a mistyped flag, `generate --help`. */
class FirstContactCliTest {
    @Test
    void pdserveAlonePrintsTheCommands() {
        CliCapture run = CliCapture.run();
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("Usage: pdserve", "Commands:")
                .containsPattern("(?m)^  serve +Serve a model").containsPattern("(?m)^  proxy ").containsPattern("(?m)^  demo ");
    }

    @Test
    void anUnknownFlagIsOneLineAndAHintNotTheWholeUsage() {
        CliCapture run = CliCapture.run("serve", "--max-model-lenn", "8");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
        assertThat(run.err().lines().toList()).containsExactly("error: Unknown option: '--max-model-lenn'",
                "Did you mean: --max-model-len?", "Try 'pdserve serve --help' for its options.");
        assertThat(run.out()).isEmpty();

        CliCapture top = CliCapture.run("--bogus");
        assertThat(top.err().lines().toList()).containsExactly("error: Unknown option: '--bogus'", "Try 'pdserve --help' for the commands.");
    }

    @Test
    void generateSaysWhatEveryFlagDoes() {
        CliCapture run = CliCapture.run("generate", "--help");
        assertThat(run.exitCode()).isZero();
        for (String flag : new String[]{"--max-tokens", "--seed", "--top-k", "--top-p", "--temperature"}) {
            // picocli prints the description on the flag's line or the next one; an empty help text leaves both bare.
            java.util.List<String> lines = run.out().lines().toList();
            int at = -1;
            for (int i = 0; i < lines.size(); i++) if (lines.get(i).matches("\\s+" + flag + "=.*")) at = i;
            assertThat(at).as(flag + " in\n" + run.out()).isNotNegative();
            String described = lines.get(at).replaceFirst("\\s+" + flag + "=<[^>]+>", "") + lines.get(at + 1);
            assertThat(described.strip()).as(flag).hasSizeGreaterThan(10).doesNotStartWith("--");
        }
    }
}
