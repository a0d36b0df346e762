package dev.pdserve.tokenizer.jinja;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** jinja2's tests: {@code x is defined}, {@code x is string}, {@code x is divisibleby 3}, ... */
final class Tests {
    private static final Set<String> NAMES = Set.of("defined", "undefined", "none", "boolean", "true", "false", "integer",
            "float", "number", "string", "mapping", "iterable", "sequence", "callable", "sameas", "eq", "equalto", "==",
            "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "odd", "even",
            "divisibleby", "lower", "upper", "escaped", "filter", "test");

    private Tests() {}

    static boolean apply(String name, Object v, List<Object> args) {
        Object a = args.isEmpty() ? null : args.getFirst();
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "number" -> Py.isNumber(v);
            case "string" -> v instanceof String;
            case "mapping" -> v instanceof Map;
            case "iterable" -> v instanceof String || v instanceof List || v instanceof Map || v instanceof Undefined;
            case "sequence" -> v instanceof String || v instanceof List || v instanceof Map || v instanceof Undefined;
            case "callable" -> v instanceof Callable;
            case "sameas" -> v == a || v != null && (v instanceof Boolean || v instanceof Long) && v.equals(a);
            case "eq", "equalto", "==" -> Py.eq(v, a);
            case "ne", "!=" -> !Py.eq(v, a);
            case "lt", "lessthan", "<" -> Py.compare(v, a, "<") < 0;
            case "le", "<=" -> Py.compare(v, a, "<=") <= 0;
            case "gt", "greaterthan", ">" -> Py.compare(v, a, ">") > 0;
            case "ge", ">=" -> Py.compare(v, a, ">=") >= 0;
            case "in" -> Py.contains(a, v);
            case "odd" -> Py.toLong(v) % 2 != 0;
            case "even" -> Py.toLong(v) % 2 == 0;
            case "divisibleby" -> Py.toLong(v) % Py.toLong(a) == 0;
            case "lower" -> Py.str(v).equals(Py.str(v).toLowerCase(java.util.Locale.ROOT)) && Py.str(v).codePoints().anyMatch(Character::isLetter);
            case "upper" -> Py.str(v).equals(Py.str(v).toUpperCase(java.util.Locale.ROOT)) && Py.str(v).codePoints().anyMatch(Character::isLetter);
            case "escaped" -> false;
            case "filter" -> Filters.exists(Py.str(v));
            case "test" -> NAMES.contains(Py.str(v));
            default -> throw TemplateException.render("TemplateRuntimeError: No test named '" + name + "'.");
        };
    }
}
