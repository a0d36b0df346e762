package dev.pdserve.tokenizer.jinja;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import java.nio.file.*;
import java.time.*;
import java.util.*;

class CorpusDebugTest {
    @Test
    void dump() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Path corpus = ChatTemplateCorpusTest.CORPUS;
        JsonNode spec = json.readTree(corpus.resolve("conversations.json").toFile());
        Clock clock = Clock.fixed(LocalDateTime.parse(spec.get("now").asText()).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        StringBuilder report = new StringBuilder();
        List<Path> ts; try (var s = Files.list(corpus)) { ts = s.filter(p -> p.toString().endsWith(".jinja")).sorted().toList(); }
        for (Path t : ts) {
            String name = t.getFileName().toString().replace(".jinja", "");
            JsonNode exp = json.readTree(corpus.resolve(name + ".expected.json").toFile()).get("cases");
            for (JsonNode c : spec.get("cases")) {
                JsonNode e = exp.get(c.get("name").asText());
                String got;
                try { got = "text:" + Template.parse(Files.readString(t)).render(ChatTemplateCorpusTest.variables(c, spec), clock); }
                catch (TemplateException x) { got = (x.raisedByTemplate() ? "raised:" : "error:") + x.getMessage(); }
                catch (RuntimeException x) { got = "JAVA:" + x; }
                String want = e.has("text") ? "text:" + e.get("text").asText() : e.has("raised") ? "raised:" + e.get("raised").asText() : "error:" + e.get("error").asText();
                boolean ok = want.equals(got) || (want.startsWith("error:") && got.startsWith("error:"));
                if (!ok) report.append("=== ").append(name).append(' ').append(c.get("name").asText()).append("\nWANT ").append(want.replace("\n", "\\n"))
                        .append("\nGOT  ").append(got.replace("\n", "\\n")).append('\n');
            }
        }
        Files.writeString(Path.of("/tmp/corpus-diff.txt"), report.toString());
    }
}
