package dev.pdserve.tokenizer.jinja;

import java.util.List;
import java.util.Map;

/** Something a template can call: a global function, a macro, a bound method. */
@FunctionalInterface
interface Callable {
    Object call(List<Object> args, Map<String, Object> kwargs);
}
