package dev.pdserve.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import jinjava.javax.el.CompositeELResolver;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A Hugging Face chat template rendered the way transformers renders it: Jinja with
 * {@code trim_blocks} and {@code lstrip_blocks}, plus {@code raise_exception}, {@code strftime_now},
 * a Python-exact {@code tojson} and Python string methods. Thread-safe; one shared Jinjava engine.
 */
final class ChatTemplate {
    private static final Jinjava JINJA = newEngine();

    private final String source;
    private final String origin;

    /** @param origin where the template came from, for error messages (a file, or a file and field) */
    ChatTemplate(String source, String origin) {
        this.source = JinjaEngine.withReversedSlices(source);
        this.origin = origin;
    }

    /**
     * The model's template, as transformers picks it: chat_template.jinja next to tokenizer_config.json
     * wins; else tokenizer_config.json's "chat_template", a string or a list of {name, template} of which
     * the one named "default" is used. Null when there is none.
     */
    static ChatTemplate find(Path modelDir, JsonNode tokenizerConfig) {
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinjaFile)) {
            try {
                return new ChatTemplate(Files.readString(jinjaFile), jinjaFile.toString());
            } catch (IOException e) {
                throw new TokenizerException("cannot read " + jinjaFile + ": " + e);
            }
        }
        Path configFile = modelDir.resolve("tokenizer_config.json");
        JsonNode template = tokenizerConfig.get("chat_template");
        if (template == null || template.isNull()) return null;
        if (template.isTextual()) return new ChatTemplate(template.asText(), configFile + " (chat_template)");
        if (template.isArray()) {
            for (JsonNode named : template) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return new ChatTemplate(named.path("template").asText(), configFile + " (chat_template \"default\")");
                }
            }
            throw new TokenizerException(configFile + " has several chat templates but none named \"default\"");
        }
        throw new TokenizerException(configFile + ": chat_template must be a string or a list of {name, template}, not " + template.getNodeType());
    }

    String render(Map<String, Object> variables) {
        RenderResult result;
        try {
            result = JINJA.renderForResult(source, variables);
        } catch (RuntimeException e) {
            throw new TokenizerException("chat template from " + origin + " failed to render: " + e.getMessage(), e);
        }
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (fatal.isEmpty()) return result.getOutput();
        for (TemplateError e : fatal) {
            String raised = raisedMessage(e.getException());
            if (raised != null) throw new TokenizerException("chat template from " + origin + " raised an exception: " + raised);
        }
        throw new TokenizerException("chat template from " + origin + " failed to render: " + fatal.stream()
                .map(e -> e.getMessage() + " (template line " + e.getLineno() + ")").collect(Collectors.joining("; ")));
    }

    /** The message a template passed to raise_exception(...), if this error came from there. */
    private static String raisedMessage(Throwable t) {
        for (; t != null; t = t.getCause()) if (t instanceof RaisedByTemplate r) return r.getMessage();
        return null;
    }

    private static Jinjava newEngine() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false) // message text is data: "{{ x }}" in a message must stay as is
                .withFailOnUnknownTokens(false)         // Jinja's default Undefined renders as empty
                .withElResolver(resolvers())
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true) // {{- x -}} trims like Jinja
                        .withParseWhitespaceControlStrictly(true)   // only {%- and -%} control whitespace
                        .withIterateOverMapKeys(true)               // for k in dict: keys, like Python
                        .withUsePyishObjectMapper(true)             // {{ [1, 'a'] }} prints like Python
                        .withEvaluateMapKeys(true)                  // {key: v} uses the variable key
                        .withUseNaturalOperatorPrecedence(true)     // a + b | trim trims b only
                        .withKeepNullableLoopValues(true)           // for x in [none, 1]: two iterations
                        .build())
                .build();
        Jinjava jinja = new JinjaEngine(config);
        jinja.registerFunction(function("raise_exception", "raiseException"));
        jinja.registerFunction(function("strftime_now", "strftimeNow"));
        jinja.registerFilter(new ToJson());
        jinja.registerTag(new GenerationTag());
        return jinja;
    }

    /** Python string methods first, then Jinjava's usual resolvers (maps, lists, beans). */
    private static CompositeELResolver resolvers() {
        CompositeELResolver resolvers = new CompositeELResolver();
        resolvers.add(new PythonStringMethods());
        resolvers.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        return resolvers;
    }

    /** Thrown by {@code raise_exception(msg)}: the template itself refuses the conversation. */
    static final class RaisedByTemplate extends RuntimeException {
        RaisedByTemplate(String message) { super(message); }
    }

    private static Object raiseException(String message) { throw new RaisedByTemplate(message); }

    private static String strftimeNow(String format) { return StrftimeFormatter.format(ZonedDateTime.now(), format); }

    private static ELFunctionDefinition function(String name, String javaMethod) {
        try {
            Method method = ChatTemplate.class.getDeclaredMethod(javaMethod, String.class);
            method.setAccessible(true); // Jinjava calls it reflectively from its own package
            return new ELFunctionDefinition("", name, method);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * transformers' {@code tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)},
     * positional or by name: {@code x | tojson(indent=2)}.
     */
    private static final class ToJson implements Filter {
        private static final List<String> PARAMETERS = List.of("ensure_ascii", "indent", "separators", "sort_keys");

        @Override public String getName() { return "tojson"; }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Map<String, Object> kw = new HashMap<>(kwargs);
            for (int i = 0; i < Math.min(args.length, PARAMETERS.size()); i++) kw.putIfAbsent(PARAMETERS.get(i), args[i]);
            Integer indent = kw.get("indent") instanceof Number n ? n.intValue() : null;
            String itemSep = null, keySep = null;
            if (kw.get("separators") instanceof List<?> seps && seps.size() == 2) {
                itemSep = String.valueOf(seps.get(0));
                keySep = String.valueOf(seps.get(1));
            }
            return PythonJson.dumps(var, indent, itemSep, keySep,
                    truthy(kw.get("sort_keys")), truthy(kw.get("ensure_ascii")));
        }

        private static boolean truthy(Object o) {
            return o instanceof Boolean b ? b : o instanceof Number n ? n.doubleValue() != 0 : o != null;
        }
    }

    /** transformers' {% generation %} marks assistant text for training masks; for rendering it is a no-op block. */
    private static final class GenerationTag implements Tag {
        @Override public String getName() { return "generation"; }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder out = new StringBuilder();
            for (Node child : tagNode.getChildren()) out.append(child.render(interpreter).getValue());
            return out.toString();
        }
    }
}
