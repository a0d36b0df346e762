package dev.pdserve.structured;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GBNF grammars: every walk's output is derivable (checked by {@link ReferenceRecognizer}, not the automaton). */
class GrammarConstraintTest {
    static List<String> grammars() {
        return List.of(
                // arithmetic: recursion in the middle of a rule
                """
                root   ::= expr
                expr   ::= term (("+" | "-") term)*
                term   ::= factor ("*" factor)*
                factor ::= [0-9]{1,3} | "(" expr ")"
                """,
                // balanced brackets of two kinds
                "root ::= item*\nitem ::= \"(\" item* \")\" | \"[\" item* \"]\"\n",
                // tail recursion (a loop), comments, escapes, a multi-line rule in parentheses
                """
                # a list of words
                root ::= word (sep root)?   # right recursion
                sep  ::= ", " | "\\n"
                word ::= [a-zA-Z\\u00e9]+ (
                    "!" |
                    "?"
                )?
                """,
                // an SQL-ish grammar as vLLM's docs show
                "root ::= select_statement\nselect_statement ::= \"SELECT \" column \" FROM \" table\ncolumn ::= \"id\" | \"name\"\ntable ::= \"users\" | \"orders\"\n",
                // nullable rules, a rule used in many places, unicode
                "root ::= a b a\na ::= (\"x\" | \"\u65e5\")?\nb ::= \"-\" [^\\n\"]{0,4} \"-\"\n",
                // JSON-like values, recursive through two rules
                """
                root  ::= value
                value ::= obj | arr | num | "true" | "null"
                obj   ::= "{" (pair ("," pair)*)? "}"
                pair  ::= "\\"" [a-z]{1,3} "\\":" value
                arr   ::= "[" (value ("," value)*)? "]"
                num   ::= "-"? [0-9]+
                """);
    }

    @ParameterizedTest
    @MethodSource("grammars")
    void walkOutputsAreDerivable(String gbnf) {
        Grammar g = GbnfParser.parse(gbnf);
        for (TokenVocabulary vocab : List.of(StructuredFixtures.tiny(), StructuredFixtures.v3())) {
            boolean small = vocab.size() < 10_000;
            CompiledConstraint c = StructuredFixtures.compile(vocab, Constraint.grammar(gbnf));
            RandomWalk walk = new RandomWalk(c, small);
            Random rnd = new Random(gbnf.hashCode());
            int finished = 0, walks = small ? 20 : 4;
            for (int i = 0; i < walks; i++) {
                byte[] out = walk.walk(rnd, 150);
                if (out == null) continue;
                finished++;
                String s = new String(out, StandardCharsets.UTF_8);
                assertThat(ReferenceRecognizer.matches(g, s)).as("'%s' derivable", s).isTrue();
            }
            assertThat(finished).isGreaterThanOrEqualTo(walks / 2);
        }
    }

    @Test
    void nonDerivableTextIsRejected() {
        CompiledConstraint c = StructuredFixtures.compile(StructuredFixtures.tiny(), Constraint.grammar(grammars().get(0)));
        for (String s : List.of("1+", "(1", "1**2", "()", "1234", "+1")) {
            Matcher m = c.newMatcher();
            boolean complete = m.acceptBytes(s.getBytes(StandardCharsets.UTF_8)) && m.isComplete();
            assertThat(complete).as(s).isFalse();
            assertThat(complete).isEqualTo(ReferenceRecognizer.matches(GbnfParser.parse(grammars().get(0)), s));
        }
        for (String s : List.of("1+2*(3-4)", "((7))", "999")) {
            Matcher m = c.newMatcher();
            assertThat(m.acceptBytes(s.getBytes(StandardCharsets.UTF_8)) && m.isComplete()).as(s).isTrue();
        }
    }

    @Test
    void badGrammarsAreRefused() {
        for (String[] bad : new String[][] {
                {"expr ::= \"a\"\n", "no 'root' rule"},
                {"root: \"a\"\nx: root\n", "Lark"},
                {"root ::= item\n", "'item' is used in rule 'root' but never defined"},
                {"root ::= root \"a\" | \"b\"\n", "left-recursive"},
                {"root ::= a\na ::= b \"x\"\nb ::= a? \"y\"\n", "left-recursive"},
                {"root ::= \"a\nb\"\n", "unterminated"},
                {"root ::= [b-a]\n", "out of order"},
                {"root ::= \"a\"\nroot ::= \"b\"\n", "defined twice"},
                {"root ::= <think>\n", "token references"},
                {"root ::= \"a\" )\n", "end of the line"}}) {
            assertThatThrownBy(() -> AutomatonBuilder.build(GbnfParser.parse(bad[0]))).as(bad[0])
                    .isInstanceOf(ConstraintException.class).hasMessageContaining(bad[1]);
        }
    }
}
