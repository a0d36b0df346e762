package dev.pdserve.structured;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Regex constraints against java.util.regex: the same strings match, and every walk's output matches. */
class RegexConstraintTest {
    static List<String> regexes() {
        return List.of("[a-z]{2,5}-(ab|cd)+\\d", "(\\+|-)?\\d+(\\.\\d{1,3})?", "^(yes|no|maybe)$", "[^\\s,]{1,6}(,[^\\s,]{1,6}){0,3}",
                "\\w+@\\w+\\.(com|org)", "(caf\u00e9|na\u00efve|\u65e5\u672c\u8a9e|\ud83d\ude00)+", "[\u0400-\u04ff]{2,4}", "a*b*c*", "(?:x|(?<g>y+)){3}z?",
                ".{0,5}!", "[\\x41-\\x43\\u00e9]+", "(a|ab)(c|bcd)(d*)", "\\{\"k\": \\d\\}");
    }

    @ParameterizedTest
    @MethodSource("regexes")
    void sameStringsMatchAsJavaRegex(String regex) {
        Pattern java = Pattern.compile(regex);
        CompiledConstraint c = StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.regex(regex));
        String alphabet = "abcdxyz-+.,!@ 019\u00e9\u00ef\u65e5\u672c\u8a9e\u0410\u044f{}\":k\ud83d\ude00ACB";
        int[] cps = alphabet.codePoints().toArray();
        Random rnd = new Random(regex.hashCode());
        int matched = 0;
        for (int i = 0; i < 3000; i++) {
            StringBuilder sb = new StringBuilder();
            int len = rnd.nextInt(9);
            for (int k = 0; k < len; k++) sb.appendCodePoint(cps[rnd.nextInt(cps.length)]);
            String s = sb.toString();
            Matcher m = c.newMatcher();
            boolean ours = m.acceptBytes(s.getBytes(StandardCharsets.UTF_8)) && m.isComplete();
            boolean theirs = java.matcher(s).matches();
            assertThat(ours).as("'%s' against %s", s, regex).isEqualTo(theirs);
            if (theirs) matched++;
        }
        // Walks produce the matching strings the random ones rarely hit.
        RandomWalk walk = new RandomWalk(c, true);
        for (int i = 0; i < 15; i++) {
            byte[] out = walk.walk(rnd, 200);
            if (out == null) continue;
            String s = new String(out, StandardCharsets.UTF_8);
            assertThat(java.matcher(s).matches()).as("walk output '%s' of %s", s, regex).isTrue();
            matched++;
        }
        assertThat(matched).isPositive();
    }

    @Test
    void walksOnDeepSeekV3sTokenizerMatch() {
        for (String regex : regexes()) {
            CompiledConstraint c = StructuredFixtures.compile(StructuredFixtures.v3(), Constraint.regex(regex));
            RandomWalk walk = new RandomWalk(c, false);
            Random rnd = new Random(7);
            for (int i = 0; i < 3; i++) {
                byte[] out = walk.walk(rnd, 200);
                if (out != null) assertThat(Pattern.compile(regex).matcher(new String(out, StandardCharsets.UTF_8)).matches()).isTrue();
            }
        }
    }

    @Test
    void unsupportedSyntaxIsRefused() {
        for (String[] bad : new String[][] {{"(a)\\1", "backreferences"}, {"a(?=b)", "lookaround"}, {"\\bword", "word boundaries"},
                {"(?i)abc", "inline flags"}, {"a*+", "possessive"}, {"a^b", "'^'"}, {"a$b", "'$'"}, {"(ab", "missing ')'"},
                {"ab)", "unbalanced"}, {"[a-", "unterminated"}, {"\\p{L}", "Unicode property"}, {"a{3,2}", "below the minimum"},
                {"a{20000}", "above"}, {"*a", "nothing to repeat"}}) {
            assertThatThrownBy(() -> RegexParser.parse(bad[0])).as(bad[0]).isInstanceOf(ConstraintException.class).hasMessageContaining(bad[1]);
        }
    }

    @Test
    void choicesAreExact() {
        List<String> choices = List.of("positive", "negative", "neutral", "neg", "\u65e5\u672c");
        CompiledConstraint c = StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.choice(choices));
        RandomWalk walk = new RandomWalk(c, true);
        Random rnd = new Random(3);
        for (int i = 0; i < 30; i++) {
            byte[] out = walk.walk(rnd, 50);
            assertThat(out).isNotNull();
            assertThat(choices).contains(new String(out, StandardCharsets.UTF_8));
        }
    }
}
