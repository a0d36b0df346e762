package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiles constraints for one model's vocabulary and keeps the most recent ones, so requests with
 * the same schema share one automaton and its cached masks. Thread-safe.
 */
public final class StructuredOutputs {
    /** Whitespace run allowed between JSON tokens unless a request says otherwise. */
    public static final int DEFAULT_MAX_WHITESPACE = 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TokenVocabulary vocab;
    private final Map<Constraint, CompiledConstraint> cache;

    public StructuredOutputs(TokenVocabulary vocab) { this(vocab, 64); }

    public StructuredOutputs(TokenVocabulary vocab, int cacheSize) {
        this.vocab = vocab;
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Constraint, CompiledConstraint> e) { return size() > cacheSize; }
        };
    }

    public TokenVocabulary vocabulary() { return vocab; }

    /** The compiled constraint, from the cache when this one was compiled before. */
    public CompiledConstraint compile(Constraint c) {
        synchronized (cache) {
            CompiledConstraint hit = cache.get(c);
            if (hit != null) return hit;
        }
        long t0 = System.nanoTime();
        Automaton a = AutomatonBuilder.build(grammarOf(c));
        CompiledConstraint compiled = new CompiledConstraint(c, a, vocab, System.nanoTime() - t0);
        synchronized (cache) {
            cache.putIfAbsent(c, compiled);
            return cache.get(c);
        }
    }

    /** The constraint's grammar; its errors name the request field of the constraint's kind. */
    static Grammar grammarOf(Constraint c) {
        JsonSchemaGrammar.Whitespace ws = c.whitespacePattern() != null ? JsonSchemaGrammar.Whitespace.pattern(c.whitespacePattern())
                : c.disableAnyWhitespace() ? JsonSchemaGrammar.Whitespace.COMPACT : JsonSchemaGrammar.Whitespace.limited(DEFAULT_MAX_WHITESPACE);
        return switch (c.kind()) {
            case JSON_SCHEMA -> JsonSchemaGrammar.compile(readJson(c.text()), ws, c.disableAdditionalProperties());
            case JSON_OBJECT -> JsonSchemaGrammar.compile(JSON.createObjectNode().put("type", "object"), ws, false);
            case REGEX -> Grammar.of(RegexParser.parse(c.text()));
            case CHOICE -> {
                List<Expr> options = new ArrayList<>();
                for (JsonNode s : readJson(c.text())) options.add(Expr.lit(s.asText()));
                if (options.isEmpty()) throw new ConstraintException("the list of choices is empty");
                yield Grammar.of(Expr.alt(options));
            }
            case GRAMMAR -> GbnfParser.parse(c.text());
        };
    }

    private static JsonNode readJson(String text) {
        try {
            return JSON.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConstraintException("the JSON schema is not valid JSON: " + e.getOriginalMessage());
        }
    }
}
