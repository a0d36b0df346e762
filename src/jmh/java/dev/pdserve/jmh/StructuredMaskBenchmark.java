package dev.pdserve.jmh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.structured.CompiledConstraint;
import dev.pdserve.structured.Constraint;
import dev.pdserve.structured.Matcher;
import dev.pdserve.structured.StructuredOutputs;
import dev.pdserve.structured.TokenMask;
import dev.pdserve.structured.TokenVocabulary;
import dev.pdserve.tokenizer.Tokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * Constrained decoding on DeepSeek-V3's real 128k tokenizer (129,280 logits rows). A decode step
 * of a constrained sequence is {@code fillMask} + {@link TokenMask#apply} on its logits row +
 * {@code accept} of the sampled token; the sampled tokens replay the tokenization of a valid
 * document (pretty-printed, so whitespace tokens occur), as a model's output would be.
 * <ul>
 *   <li>{@code compile}: schema text to automaton (a fresh compiler, no cache); masks not included.</li>
 *   <li>{@code firstRequest}: compile, then every step of the document with empty mask caches
 *       (each automaton state's mask is computed on first visit).</li>
 *   <li>{@code step1} / {@code step32}: one decode step of 1 / 32 sequences, each at its own place in
 *       the document, caches warm (every later request with the same schema).</li>
 * </ul>
 * Run from the repository root (the tokenizer fixture is read from src/test/resources):
 * <pre>java ... org.openjdk.jmh.Main StructuredMask</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class StructuredMaskBenchmark {
    static final String NESTED = """
            {"type":"object","properties":{
              "id":{"type":"string","pattern":"^[A-Z]{2}-[0-9]{3}$"},
              "name":{"type":"string","maxLength":60},
              "status":{"enum":["active","inactive","pending"]},
              "score":{"type":"number","minimum":0,"maximum":10},
              "tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":5},
              "owner":{"type":"object","properties":{"login":{"type":"string"},"email":{"type":"string","format":"email"},"admin":{"type":"boolean"}},"required":["login"]},
              "created":{"type":"string","format":"date"},
              "items":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"integer","minimum":1},"qty":{"type":"integer","minimum":1,"maximum":99}},"required":["sku","qty"]}}},
             "required":["id","name","status","tags","owner","items"]}""";
    static final String NESTED_DOC = """
            {
              "id": "AB-123",
              "name": "Ada Lovelace, née Byron — analyst 日本",
              "status": "active",
              "score": 7.25,
              "tags": ["math", "engines", "poetry"],
              "owner": {"login": "ada", "email": "ada.lovelace@example.org", "admin": true},
              "created": "1843-07-15",
              "items": [{"sku": 1001, "qty": 2}, {"sku": 42, "qty": 99}]
            }""";
    static final String OBJECT_DOC = """
            {"user": {"name": "Grace", "langs": ["COBOL", "FLOW-MATIC"], "born": 1906, "awards": [{"year": 1991, "what": "National Medal of Technology"}]},
             "notes": "first compiler; \\"bug\\" in a relay", "ok": true, "nothing": null, "ratio": -0.5e3}""";

    @Param({"nested", "json_object"})
    public String constraint;

    private TokenVocabulary vocab;
    private Constraint spec;
    private CompiledConstraint warm;
    private int[] doc;
    private Matcher[] matchers;
    private float[] logits;
    private long[] mask;
    private Path tmp;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        tmp = Files.createTempDirectory("pdserve-bench-tokenizer");
        Path src = Path.of(System.getProperty("pdserve.repo", ".")).resolve("src/test/resources/structured/deepseek-v3");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(src.resolve("tokenizer.json.gz")))) {
            Files.copy(in, tmp.resolve("tokenizer.json"));
        }
        Files.copy(src.resolve("tokenizer_config.json"), tmp.resolve("tokenizer_config.json"));
        String text;
        try (Tokenizer tok = Tokenizer.load(tmp)) {
            vocab = TokenVocabulary.load(tok, tmp, 129280, new int[] {1});
            text = constraint.equals("nested") ? NESTED_DOC : OBJECT_DOC;
            doc = tok.encode(text, false);
        }
        spec = constraint.equals("nested") ? Constraint.jsonSchema(new ObjectMapper().readTree(NESTED)) : Constraint.jsonObject();
        warm = new StructuredOutputs(vocab).compile(spec);
        mask = new long[vocab.maskWords()];
        Matcher check = warm.newMatcher();
        for (int t : doc) if (!check.accept(t)) throw new IllegalStateException("the document does not fit the constraint at token " + t);
        if (!check.isComplete()) throw new IllegalStateException("the document is not complete");
        replay(warm.newMatcher()); // fill the caches
        matchers = new Matcher[32];
        for (int i = 0; i < matchers.length; i++) {
            matchers[i] = warm.newMatcher();
            for (int k = 0; k < i * doc.length / matchers.length; k++) matchers[i].accept(doc[k]);
        }
        logits = new float[matchers.length * vocab.size()];
        System.out.printf("%n%s: %d tokens, %d automaton states, %d masks cached after one pass%n",
                constraint, doc.length, warm.numStates(), warm.numCachedMasks());
    }

    @TearDown(Level.Trial)
    public void cleanup() throws IOException {
        Files.deleteIfExists(tmp.resolve("tokenizer.json"));
        Files.deleteIfExists(tmp.resolve("tokenizer_config.json"));
        Files.deleteIfExists(tmp);
    }

    private long replay(Matcher m) {
        long sum = 0;
        for (int t : doc) {
            m.fillMask(mask);
            sum += mask[t >>> 6];
            m.accept(t);
        }
        return sum;
    }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public CompiledConstraint compile() { return new StructuredOutputs(vocab).compile(spec); }

    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long firstRequest() { return replay(new StructuredOutputs(vocab).compile(spec).newMatcher()); }

    @Benchmark
    public long step1() { return step(matchers[5], 0); }

    @Benchmark
    public long step32() {
        long sum = 0;
        for (int i = 0; i < matchers.length; i++) sum += step(matchers[i], i);
        return sum;
    }

    /** One decode step of a sequence: mask, apply to its logits row, take the next token of the document. */
    private long step(Matcher m, int row) {
        if (m.numAccepted() == doc.length) m.rollback(doc.length);
        m.fillMask(mask);
        TokenMask.apply(mask, logits, row * vocab.size(), vocab.size());
        m.accept(doc[m.numAccepted()]);
        return mask[0];
    }
}
