package dev.pdserve.tokenizer.jinja;

/**
 * jinja2's default Undefined: prints as nothing, is false, iterates as empty, has length 0; anything
 * else done with it (an attribute, an item, arithmetic, a call) fails with {@link #hint}.
 */
final class Undefined {
    final String hint;

    Undefined(String hint) { this.hint = hint; }

    static Undefined name(String name) { return new Undefined("'" + name + "' is undefined"); }

    static Undefined attribute(Object owner, Object name) {
        return new Undefined("'" + Py.typeName(owner) + " object' has no attribute " + Py.repr(name));
    }

    TemplateException error() { return TemplateException.render("UndefinedError: " + hint); }

    @Override public String toString() { return ""; }
}
