package dev.pdserve.tokenizer.jinja;

import dev.pdserve.tokenizer.jinja.Node.Args;
import dev.pdserve.tokenizer.jinja.Node.Expr;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Evaluates expressions in a scope, with Python's semantics ({@link Py}, {@link Operators}). */
final class Evaluator {
    private Evaluator() {}

    static Object eval(Expr e, Scope scope) {
        return switch (e) {
            case Node.Const c -> c.value();
            case Node.Name n -> scope.get(n.name());
            case Node.ListLit l -> all(l.items(), scope);
            case Node.TupleLit t -> new Tuple(all(t.items(), scope));
            case Node.DictLit d -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) out.put(eval(d.keys().get(i), scope), eval(d.values().get(i), scope));
                yield out;
            }
            case Node.GetAttr g -> Methods.getattr(eval(g.target(), scope), g.name());
            case Node.GetItem g when g.key() instanceof Node.Slice s -> Methods.slice(eval(g.target(), scope),
                    optional(s.start(), scope), optional(s.stop(), scope), optional(s.step(), scope));
            case Node.GetItem g -> Methods.getitem(eval(g.target(), scope), eval(g.key(), scope));
            case Node.Slice s -> throw TemplateException.render("a slice outside brackets");
            case Node.Call c -> call(eval(c.function(), scope), c.args(), scope);
            case Node.Filter f -> filter(f, eval(f.target(), scope), scope);
            case Node.Test t -> {
                Object value = eval(t.target(), scope);
                boolean result = Tests.apply(t.name(), value, all(t.args().positional(), scope));
                yield t.negated() != result;
            }
            case Node.Unary u -> Operators.unary(u.op(), eval(u.operand(), scope));
            case Node.Binary b when b.op().equals("and") -> {
                Object left = eval(b.left(), scope);
                yield Py.truthy(left) ? eval(b.right(), scope) : left;
            }
            case Node.Binary b when b.op().equals("or") -> {
                Object left = eval(b.left(), scope);
                yield Py.truthy(left) ? left : eval(b.right(), scope);
            }
            case Node.Binary b -> Operators.binary(b.op(), eval(b.left(), scope), eval(b.right(), scope));
            case Node.Compare c -> compare(c, scope);
            case Node.Concat c -> {
                StringBuilder out = new StringBuilder();
                for (Expr part : c.parts()) out.append(Py.str(eval(part, scope)));
                yield out.toString();
            }
            case Node.CondExpr c -> Py.truthy(eval(c.condition(), scope)) ? eval(c.then(), scope)
                    : c.orElse() == null ? new Undefined("the inline if-expression evaluated to false and no else section was defined.")
                    : eval(c.orElse(), scope);
        };
    }

    /** Applies a filter node to a value (the target of {@code x | f}, or a block's text). */
    static Object filter(Node.Filter f, Object value, Scope scope) {
        List<Object> args = new ArrayList<>();
        Map<String, Object> kwargs = new LinkedHashMap<>();
        arguments(f.args(), scope, args, kwargs);
        return Filters.apply(f.name(), new Filters.Call(value, args, kwargs));
    }

    private static Object compare(Node.Compare c, Scope scope) {
        Object left = eval(c.operands().getFirst(), scope);
        for (int i = 0; i < c.ops().size(); i++) {
            Object right = eval(c.operands().get(i + 1), scope);
            if (!Operators.compare(c.ops().get(i), left, right)) return false;
            left = right;
        }
        return true;
    }

    private static Object call(Object function, Args a, Scope scope) {
        if (function instanceof Undefined u) throw u.error();
        if (!(function instanceof Callable callable)) throw TemplateException.type("'" + Py.typeName(function) + "' object is not callable");
        List<Object> args = new ArrayList<>();
        Map<String, Object> kwargs = new LinkedHashMap<>();
        arguments(a, scope, args, kwargs);
        return callable.call(args, kwargs);
    }

    private static void arguments(Args a, Scope scope, List<Object> args, Map<String, Object> kwargs) {
        args.addAll(all(a.positional(), scope));
        for (int i = 0; i < a.names().size(); i++) kwargs.put(a.names().get(i), eval(a.named().get(i), scope));
        if (a.star() != null) args.addAll(Py.iterate(eval(a.star(), scope)));
        if (a.starStar() != null && eval(a.starStar(), scope) instanceof Map<?, ?> m) m.forEach((k, v) -> kwargs.put(Py.str(k), v));
    }

    private static List<Object> all(List<Expr> items, Scope scope) {
        List<Object> out = new ArrayList<>(items.size());
        for (Expr item : items) out.add(eval(item, scope));
        return out;
    }

    private static Object optional(Expr e, Scope scope) { return e == null ? null : eval(e, scope); }
}
