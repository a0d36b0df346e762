package dev.pdserve.tokenizer.jinja;

import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * A Jinja template as Hugging Face chat templates are written and transformers renders them:
 * jinja2's ImmutableSandboxedEnvironment with {@code trim_blocks}, {@code lstrip_blocks}, loop controls
 * ({@code break}, {@code continue}) and {@code {% generation %}}; {@code tojson} as Python's json.dumps
 * with {@code ensure_ascii=False}; {@code raise_exception(msg)} and {@code strftime_now(fmt)}. Values
 * print as Python prints them ({@code True}, {@code None}, {@code 1.0}). Parsed once, thread-safe.
 */
public final class Template {
    private final List<Node.Stmt> body;

    private Template(List<Node.Stmt> body) { this.body = body; }

    /** @throws TemplateException when the source is not a template this engine reads */
    public static Template parse(String source) { return new Template(Parser.parse(source)); }

    public String render(Map<String, ?> variables) { return render(variables, Clock.systemDefaultZone()); }

    /**
     * Renders with {@code variables} as the template's top-level names (Java maps, lists, strings,
     * numbers, booleans and nulls), {@code clock} telling strftime_now the time.
     *
     * @throws TemplateException when rendering fails, or the template raised an exception
     */
    public String render(Map<String, ?> variables, Clock clock) {
        Scope top = Globals.scope(clock);
        Scope scope = new Scope(top);
        variables.forEach((k, v) -> scope.set(k, Py.fromJava(v)));
        StringBuilder out = new StringBuilder();
        try {
            Renderer.render(body, scope, out);
        } catch (ArithmeticException e) {
            throw TemplateException.render("OverflowError: " + e.getMessage());
        } catch (StackOverflowError e) {
            throw TemplateException.render("RecursionError: maximum recursion depth exceeded");
        }
        return out.toString();
    }
}
