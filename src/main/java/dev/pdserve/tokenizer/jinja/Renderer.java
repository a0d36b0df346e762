package dev.pdserve.tokenizer.jinja;

import dev.pdserve.tokenizer.jinja.Node.Expr;
import dev.pdserve.tokenizer.jinja.Node.Stmt;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs statements as jinja2 does: each loop iteration and macro call has its own scope (a
 * {@code set} inside a loop is gone after it, which is why templates use namespace()), if-blocks share
 * the enclosing one.
 */
final class Renderer {
    /** Thrown by {@code {% break %}} and {@code {% continue %}} to the loop around them. */
    private static final class LoopControl extends RuntimeException {
        final boolean isBreak;

        LoopControl(boolean isBreak) {
            super(null, null, false, false);
            this.isBreak = isBreak;
        }
    }

    private static final LoopControl BREAK = new LoopControl(true), CONTINUE = new LoopControl(false);

    private Renderer() {}

    static void render(List<Stmt> body, Scope scope, StringBuilder out) {
        for (Stmt s : body) execute(s, scope, out);
    }

    private static void execute(Stmt s, Scope scope, StringBuilder out) {
        switch (s) {
            case Node.Text t -> out.append(t.text());
            case Node.Output o -> out.append(Py.str(Evaluator.eval(o.value(), scope)));
            case Node.If i -> {
                for (int k = 0; k < i.conditions().size(); k++) {
                    if (Py.truthy(Evaluator.eval(i.conditions().get(k), scope))) {
                        render(i.bodies().get(k), scope, out);
                        return;
                    }
                }
                render(i.orElse(), scope, out);
            }
            case Node.For f -> loop(f, scope, out);
            case Node.Set set -> assign(set.target(), Evaluator.eval(set.value(), scope), scope);
            case Node.SetBlock b -> scope.set(b.name(), filtered(b.filters(), b.body(), new Scope(scope)));
            case Node.FilterBlock b -> out.append(b.filters().isEmpty() ? rendered(b.body(), scope) : filtered(b.filters(), b.body(), scope));
            case Node.Macro m -> scope.set(m.name(), macro(m, scope));
            case Node.Break b -> throw BREAK;
            case Node.Continue c -> throw CONTINUE;
        }
    }

    private static String rendered(List<Stmt> body, Scope scope) {
        StringBuilder out = new StringBuilder();
        render(body, scope, out);
        return out.toString();
    }

    private static String filtered(List<Node.Filter> filters, List<Stmt> body, Scope scope) {
        Object value = rendered(body, scope);
        for (Node.Filter f : filters) value = Evaluator.filter(f, value, scope);
        return Py.str(value);
    }

    private static void loop(Node.For f, Scope scope, StringBuilder out) {
        Object iterable = Evaluator.eval(f.iterable(), scope);
        if (iterable == null) throw TemplateException.type("'NoneType' object is not iterable");
        List<Object> items = Py.iterate(iterable);
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Scope s = new Scope(scope);
                assign(f.target(), item, s);
                if (Py.truthy(Evaluator.eval(f.filter(), s))) kept.add(item);
            }
            items = kept;
        }
        LoopContext loop = new LoopContext(items, 1);
        for (int i = 0; i < items.size(); i++) {
            loop.index0 = i;
            Scope s = new Scope(scope);
            s.set("loop", loop);
            assign(f.target(), items.get(i), s);
            try {
                render(f.body(), s, out);
            } catch (LoopControl c) {
                if (c.isBreak) break;
            }
        }
        if (items.isEmpty()) render(f.orElse(), scope, out);
    }

    private static void assign(Expr target, Object value, Scope scope) {
        switch (target) {
            case Node.Name n -> scope.set(n.name(), value);
            case Node.TupleLit t -> {
                List<Object> values = Py.iterate(value);
                if (values.size() != t.items().size()) {
                    throw TemplateException.render("ValueError: " + (values.size() > t.items().size() ? "too many values to unpack"
                            : "not enough values to unpack") + " (expected " + t.items().size() + ", got " + values.size() + ")");
                }
                for (int i = 0; i < values.size(); i++) assign(t.items().get(i), values.get(i), scope);
            }
            case Node.GetAttr g -> {
                Object owner = Evaluator.eval(g.target(), scope);
                if (!(owner instanceof Namespace ns)) throw TemplateException.render("TemplateRuntimeError: cannot assign attribute on non-namespace object");
                ns.attributes.put(g.name(), value);
            }
            default -> throw TemplateException.render("cannot assign to " + target);
        }
    }

    /** A macro: a function whose scope sees the one it was defined in; missing arguments are undefined. */
    private static Callable macro(Node.Macro m, Scope defined) {
        return (args, kwargs) -> {
            Scope s = new Scope(defined);
            Map<String, Object> rest = new LinkedHashMap<>(kwargs);
            int firstDefault = m.params().size() - m.defaults().size();
            for (int i = 0; i < m.params().size(); i++) {
                String p = m.params().get(i);
                if (i < args.size()) s.set(p, args.get(i));
                else if (rest.containsKey(p)) s.set(p, rest.remove(p));
                else if (i >= firstDefault) s.set(p, Evaluator.eval(m.defaults().get(i - firstDefault), s));
                else s.set(p, new Undefined("parameter '" + p + "' was not provided"));
            }
            s.set("varargs", new Tuple(args.size() > m.params().size() ? new ArrayList<>(args.subList(m.params().size(), args.size())) : List.of()));
            Map<Object, Object> extra = new LinkedHashMap<>(rest);
            s.set("kwargs", extra);
            return rendered(m.body(), s);
        };
    }
}
