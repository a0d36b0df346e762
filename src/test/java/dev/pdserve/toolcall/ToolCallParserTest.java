package dev.pdserve.toolcall;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Each parser on model texts of its format: the calls (name, arguments as JSON text) and the
 * content around them, whole and streamed one character, or a few, at a time; the stream's pieces
 * add up to the whole answer, names come before arguments, and text that is not a call is content.
 */
class ToolCallParserTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String W = "{\"location\": \"Paris, FR\", \"unit\": \"celsius\"}";
    private static final String T = "{\"tz\": \"Europe/Paris\", \"nested\": {\"a\": [1, 2, {\"b\": \"}\\\"]\"}]}}";

    record Case(String parser, String text, String content, List<String[]> calls) {
        @Override public String toString() { return parser + ": " + text.replace("\n", "\\n"); }
    }

    private static String[] call(String name, String args) { return new String[] {name, args}; }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + W + "}\n</tool_call>", "", List.<String[]>of(call("get_weather", W))),
                new Case("hermes", "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + W + "}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": " + T + "}\n</tool_call>",
                        "Let me check.\n", List.<String[]>of(call("get_weather", W), call("get_time", T))),
                new Case("hermes", "No tools needed: 1 < 2 and <tool is not a tag.", "No tools needed: 1 < 2 and <tool is not a tag.", List.of()),
                new Case("hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": ", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": ", List.of()),
                new Case("hermes", "<tool_call>\nnot json at all\n</tool_call> after", "<tool_call>\nnot json at all\n</tool_call> after", List.of()),
                new Case("deepseek_v3", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + W + "\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n" + T + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
                        "", List.<String[]>of(call("get_weather", W), call("get_time", T))),
                new Case("deepseek_v3", "Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + W + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
                        "Sure.", List.<String[]>of(call("get_weather", W))),
                new Case("deepseek_v3", "plain text with ``` fences\n```json\n{}\n```", "plain text with ``` fences\n```json\n{}\n```", List.of()),
                new Case("llama3_json", "{\"name\": \"get_weather\", \"parameters\": " + W + "}", "", List.<String[]>of(call("get_weather", W))),
                new Case("llama3_json", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": " + W + "}; {\"name\": \"get_time\", \"arguments\": " + T + "}",
                        "", List.<String[]>of(call("get_weather", W), call("get_time", T))),
                new Case("llama3_json", "The weather is {probably} fine.", "The weather is {probably} fine.", List.of()),
                new Case("llama3_json", "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Par", "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Par", List.of()),
                new Case("mistral", "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": " + W + "}, {\"name\": \"get_time\", \"arguments\": " + T + "}]",
                        "", List.<String[]>of(call("get_weather", W), call("get_time", T))),
                new Case("mistral", "Checking.[TOOL_CALLS]get_weather[ARGS]" + W + "[TOOL_CALLS]get_time[ARGS]" + T, "Checking.",
                        List.<String[]>of(call("get_weather", W), call("get_time", T))),
                new Case("mistral", "An array [1, 2] and [TOOL_ not quite", "An array [1, 2] and [TOOL_ not quite", List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void wholeText(Case c) throws Exception {
        ToolCallParser.Scan s = ToolCallParser.named(c.parser).scan(c.text, true);
        assertThat(s.content()).isEqualTo(c.content);
        List<ToolCallParser.Call> calls = s.completeCalls();
        assertThat(calls).hasSize(c.calls.size());
        for (int i = 0; i < calls.size(); i++) {
            assertThat(calls.get(i).name()).isEqualTo(c.calls.get(i)[0]);
            assertThat(JSON.readTree(calls.get(i).arguments())).isEqualTo(JSON.readTree(c.calls.get(i)[1]));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void streamedInPiecesAddsUpToTheWhole(Case c) throws Exception {
        for (int step : new int[] {1, 2, 3, 7}) {
            ToolCallStream stream = new ToolCallStream(ToolCallParser.named(c.parser));
            StringBuilder content = new StringBuilder();
            List<String> names = new ArrayList<>();
            List<StringBuilder> args = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int end = step; ; end = Math.min(end + step, c.text.length())) {
                boolean last = end == c.text.length();
                ToolCallStream.Delta d = stream.update(c.text.substring(0, end), last);
                content.append(d.content());
                for (ToolCallStream.CallDelta cd : d.calls()) {
                    if (cd.name() != null) {
                        assertThat(cd.index()).isEqualTo(names.size());
                        names.add(cd.name());
                        ids.add(cd.id());
                        args.add(new StringBuilder());
                    }
                    args.get(cd.index()).append(cd.arguments());
                }
                if (last) break;
            }
            assertThat(content.toString()).as("content, step " + step).isEqualTo(c.content);
            // A call cut off after its name was sent is also in the content at the end (never lost); every whole call was streamed.
            assertThat(names.size()).as("step " + step).isBetween(c.calls.size(), c.calls.size() + 1);
            for (int i = 0; i < c.calls.size(); i++) {
                assertThat(names.get(i)).isEqualTo(c.calls.get(i)[0]);
                assertThat(JSON.readTree(args.get(i).toString())).as("arguments of call %d, step %d", i, step).isEqualTo(JSON.readTree(c.calls.get(i)[1]));
                assertThat(args.get(i).toString()).isEqualTo(stream.scan().calls().get(i).arguments());
            }
            assertThat(ids).doesNotHaveDuplicates().isEqualTo(stream.ids());
            for (String id : ids) assertThat(id).matches(c.parser.equals("mistral") ? "[A-Za-z0-9]{9}" : "chatcmpl-tool-[0-9a-f]{32}");
        }
    }

    @Test
    void requiredAndNamedChoices() throws Exception {
        String text = "[{\"name\": \"get_weather\", \"parameters\": " + W + "}, {\"name\": \"get_time\", \"parameters\": " + T + "}]";
        ToolCallParser.Scan s = ToolCallParser.forRequiredChoice().scan(text, true);
        assertThat(s.completeCalls()).extracting(ToolCallParser.Call::name).containsExactly("get_weather", "get_time");
        assertThat(JSON.readTree(s.completeCalls().get(1).arguments())).isEqualTo(JSON.readTree(T));
        // cut short (max_tokens): no call, the text is content
        assertThat(ToolCallParser.forRequiredChoice().scan(text.substring(0, 40), true).content()).isEqualTo(text.substring(0, 40));

        ToolCallStream named = new ToolCallStream(ToolCallParser.forNamedFunction("get_weather"));
        ToolCallStream.Delta first = named.update("{\"loc", false);
        assertThat(first.calls()).singleElement().satisfies(d -> {
            assertThat(d.name()).isEqualTo("get_weather");
            assertThat(d.arguments()).isEqualTo("{\"loc");
        });
        assertThat(named.update(W.substring(0, 5) + W.substring(5), true).calls()).singleElement()
                .satisfies(d -> assertThat(d.arguments()).isEqualTo(W.substring(5)));
        assertThat(named.scan().completeCalls()).hasSize(1);
    }

    @Test
    void unknownParserNameIsNull() {
        assertThat(ToolCallParser.named("pythonic")).isNull();
        assertThat(ToolCallParser.PARSERS.keySet()).containsExactlyInAnyOrder("hermes", "deepseek_v3", "llama3_json", "mistral");
    }
}
