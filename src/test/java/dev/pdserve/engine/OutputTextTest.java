package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class OutputTextTest {
    /** Token t's text is the t-th of these pieces. */
    static final String[] PIECES = {"", "<eos>", "Hel", "lo", " wor", "ld", "!", "\n", "ST", "OP", "x", "S"};

    static TokenDecoder.Factory pieces() {
        return (prompt, skip) -> t -> t < PIECES.length ? PIECES[t] : "<" + t + ">";
    }

    static String stream(OutputText text, int... tokens) {
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) {
            boolean stop = text.add(t, true);
            sb.append(text.takeDelta(stop)).append('|');
            if (stop) break;
        }
        return sb.toString();
    }

    @Test
    void withoutStopsEveryDeltaGoesOutAtOnce() {
        OutputText t = new OutputText(pieces().create(new int[0], true), List.of(), false);
        assertThat(stream(t, 2, 3, 4, 5)).isEqualTo("Hel|lo| wor|ld|");
    }

    @Test
    void aStopStringSplitOverTokensIsHeldBackAndNeverLeaks() {
        OutputText t = new OutputText(pieces().create(new int[0], true), List.of("STOP"), false);
        assertThat(stream(t, 2, 3, 8, 9, 4)).isEqualTo("Hel|lo|||");
        assertThat(t.matchedStop()).isEqualTo("STOP");
        assertThat(t.fullText()).isEqualTo("Hello");
    }

    @Test
    void heldBackTextIsReleasedWhenItTurnsOutNotToBeAStop() {
        OutputText t = new OutputText(pieces().create(new int[0], true), List.of("STOP"), false);
        // "S" could start STOP, "ST" too, then "STx" cannot: all of it goes out.
        assertThat(stream(t, 11, 10)).isEqualTo("|Sx|");
        t = new OutputText(pieces().create(new int[0], true), List.of("STOP"), false);
        t.add(8, true);
        assertThat(t.takeDelta(false)).isEmpty();
        assertThat(t.takeDelta(true)).isEqualTo("ST");
    }

    @Test
    void includeStopStrKeepsTheStopAndTheEarliestStopWins() {
        OutputText t = new OutputText(pieces().create(new int[0], true), List.of("ld", "STOP"), true);
        assertThat(stream(t, 4, 5, 6)).isEqualTo(" wor|ld|");
        t = new OutputText(pieces().create(new int[0], true), List.of("OP", "lo wor"), false);
        assertThat(stream(t, 2, 3, 4, 8, 9)).isEqualTo("He|l||"); // "l" might start "lo wor"
        assertThat(t.matchedStop()).isEqualTo("lo wor");
    }
}
