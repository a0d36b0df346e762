package dev.pdserve.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;

/** Python's arithmetic on template values: int stays int, / gives a float, // and % floor, str % formats. */
final class Operators {
    private Operators() {}

    static Object binary(String op, Object a, Object b) {
        if (a instanceof Undefined u) throw u.error();
        if (b instanceof Undefined u) throw u.error();
        return switch (op) {
            case "+" -> add(a, b);
            case "-" -> numeric(op, a, b, Math::subtractExact, (x, y) -> x - y);
            case "*" -> multiply(a, b);
            case "/" -> {
                requireNumbers(op, a, b);
                if (Py.toDouble(b) == 0) throw TemplateException.render("ZeroDivisionError: division by zero");
                yield Py.toDouble(a) / Py.toDouble(b);
            }
            case "//" -> {
                requireNumbers(op, a, b);
                if (Py.toDouble(b) == 0) throw TemplateException.render("ZeroDivisionError: integer division or modulo by zero");
                yield Py.isInt(a) && Py.isInt(b) ? (Object) Math.floorDiv(Py.toLong(a), Py.toLong(b))
                        : (Object) Math.floor(Py.toDouble(a) / Py.toDouble(b));
            }
            case "%" -> {
                if (a instanceof String format) yield Formatting.percent(format, b);
                requireNumbers(op, a, b);
                if (Py.toDouble(b) == 0) throw TemplateException.render("ZeroDivisionError: integer division or modulo by zero");
                if (Py.isInt(a) && Py.isInt(b)) yield Math.floorMod(Py.toLong(a), Py.toLong(b));
                double x = Py.toDouble(a), y = Py.toDouble(b);
                yield x - y * Math.floor(x / y);
            }
            case "**" -> {
                requireNumbers(op, a, b);
                if (Py.isInt(a) && Py.isInt(b) && Py.toLong(b) >= 0) {
                    long result = 1;
                    for (long i = 0; i < Py.toLong(b); i++) result = Math.multiplyExact(result, Py.toLong(a));
                    yield result;
                }
                yield Math.pow(Py.toDouble(a), Py.toDouble(b));
            }
            default -> throw new IllegalArgumentException(op);
        };
    }

    static Object negate(Object v) {
        if (v instanceof Undefined u) throw u.error();
        if (v instanceof Double d) return -d;
        if (Py.isInt(v)) return -Py.toLong(v);
        throw TemplateException.type("bad operand type for unary -: '" + Py.typeName(v) + "'");
    }

    private static Object add(Object a, Object b) {
        if (a instanceof String x) {
            if (b instanceof String y) return x + y;
            throw TemplateException.type("can only concatenate str (not \"" + Py.typeName(b) + "\") to str");
        }
        if (a instanceof Tuple x && b instanceof Tuple y) {
            List<Object> out = new ArrayList<>(x);
            out.addAll(y);
            return new Tuple(out);
        }
        if (a instanceof List<?> x && !(a instanceof Tuple) && b instanceof List<?> y && !(b instanceof Tuple)) {
            List<Object> out = new ArrayList<>(x);
            out.addAll(y);
            return out;
        }
        if (a instanceof List<?> && !(a instanceof Tuple)) {
            throw TemplateException.type("can only concatenate list (not \"" + Py.typeName(b) + "\") to list");
        }
        return numeric("+", a, b, Math::addExact, Double::sum);
    }

    private static Object multiply(Object a, Object b) {
        if (a instanceof String s && Py.isInt(b)) return s.repeat((int) Math.max(0, Py.toLong(b)));
        if (b instanceof String s && Py.isInt(a)) return s.repeat((int) Math.max(0, Py.toLong(a)));
        if (a instanceof List<?> l && Py.isInt(b)) {
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < Py.toLong(b); i++) out.addAll(l);
            return a instanceof Tuple ? new Tuple(out) : out;
        }
        return numeric("*", a, b, Math::multiplyExact, (x, y) -> x * y);
    }

    private interface LongOp { long apply(long a, long b); }

    private interface DoubleOp { double apply(double a, double b); }

    private static Object numeric(String op, Object a, Object b, LongOp ints, DoubleOp floats) {
        requireNumbers(op, a, b);
        if (Py.isInt(a) && Py.isInt(b)) return ints.apply(Py.toLong(a), Py.toLong(b));
        return floats.apply(Py.toDouble(a), Py.toDouble(b));
    }

    private static void requireNumbers(String op, Object a, Object b) {
        if (!Py.isNumber(a) || !Py.isNumber(b)) {
            throw TemplateException.type("unsupported operand type(s) for " + op + ": '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
        }
    }

    /** The value of {@code -x}, {@code not x}; unary plus leaves numbers as they are. */
    static Object unary(String op, Object v) {
        return switch (op) {
            case "not" -> !Py.truthy(v);
            case "-" -> negate(v);
            default -> {
                if (v instanceof Undefined u) throw u.error();
                if (!Py.isNumber(v)) throw TemplateException.type("bad operand type for unary +: '" + Py.typeName(v) + "'");
                yield v instanceof Boolean ? (Object) Py.toLong(v) : v;
            }
        };
    }

    static boolean compare(String op, Object a, Object b) {
        return switch (op) {
            case "==" -> Py.eq(a, b);
            case "!=" -> !Py.eq(a, b);
            case "<" -> Py.compare(a, b, op) < 0;
            case ">" -> Py.compare(a, b, op) > 0;
            case "<=" -> Py.compare(a, b, op) <= 0;
            case ">=" -> Py.compare(a, b, op) >= 0;
            case "in" -> Py.contains(b, a);
            case "not in" -> !Py.contains(b, a);
            default -> throw new IllegalArgumentException(op);
        };
    }

}
