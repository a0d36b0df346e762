package dev.pdserve.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A JSON schema as a grammar whose every output is a JSON value the schema accepts. Properties come
 * in the schema's order; an object with {@code properties} and no {@code additionalProperties} takes
 * no others (as OpenAI's strict mode and xgrammar); {@code pattern} must match the whole string;
 * numbers have at most 16 integer and 16 fraction digits. Keywords that cannot be enforced are
 * refused with their name and place, never ignored.
 */
final class JsonSchemaGrammar {
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$comment", "$schema",
            "$id", "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "discriminator", "example", "x-order");
    private static final Set<String> OBJECT_WORDS = Set.of("properties", "required", "additionalProperties");
    private static final Set<String> ARRAY_WORDS = Set.of("items", "prefixItems", "minItems", "maxItems", "additionalItems", "uniqueItems");
    private static final Set<String> STRING_WORDS = Set.of("pattern", "minLength", "maxLength", "format");
    private static final Set<String> NUMBER_WORDS = Set.of("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum");
    private static final Set<String> COMBINATORS = Set.of("anyOf", "oneOf", "allOf", "$ref", "enum", "const", "type", "nullable");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** How JSON whitespace may appear between tokens. */
    record Whitespace(Expr between, String comma, String colon) {
        /** Runs of up to {@code max} spaces, tabs and newlines anywhere JSON allows them. */
        static Whitespace limited(int max) {
            return new Whitespace(new Expr.Repeat(Expr.chars(CodePointSet.ofChars(" \t\n\r")), 0, max), ",", ":");
        }

        static final Whitespace COMPACT = new Whitespace(Expr.EMPTY, ",", ":");

        static Whitespace pattern(String regex) { return new Whitespace(RegexParser.parse(regex), ",", ":"); }
    }

    private final JsonNode root;
    private final Whitespace ws;
    private final boolean noAdditionalProperties;
    private final Map<String, Expr> rules = new LinkedHashMap<>();
    private final Map<String, String> refRules = new HashMap<>();
    private int counter;

    private JsonSchemaGrammar(JsonNode root, Whitespace ws, boolean noAdditionalProperties) {
        this.root = root;
        this.ws = ws;
        this.noAdditionalProperties = noAdditionalProperties;
    }

    static Grammar compile(JsonNode schema, Whitespace ws, boolean noAdditionalProperties) {
        JsonSchemaGrammar g = new JsonSchemaGrammar(schema, ws, noAdditionalProperties);
        g.rules.put("root", Expr.EMPTY);
        g.rules.put("root", g.schema(schema, "#"));
        return new Grammar(g.rules, "root");
    }

    private static ConstraintException error(String where, String what) {
        return new ConstraintException("JSON schema at " + where + ": " + what);
    }

    private Expr schema(JsonNode s, String at) {
        if (s.isBoolean()) return s.asBoolean() ? anyValue() : Expr.NOTHING;
        if (!s.isObject()) throw error(at, "a schema must be an object or a boolean, not " + s.getNodeType().toString().toLowerCase());
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ANNOTATIONS.contains(k) && !OBJECT_WORDS.contains(k) && !ARRAY_WORDS.contains(k) && !STRING_WORDS.contains(k)
                    && !NUMBER_WORDS.contains(k) && !COMBINATORS.contains(k)) {
                throw error(at, "the keyword '" + k + "' is not supported");
            }
        }
        if (s.path("nullable").asBoolean(false)) {
            com.fasterxml.jackson.databind.node.ObjectNode copy = s.deepCopy();
            copy.remove("nullable");
            return Expr.alt(schema(copy, at), Expr.lit("null"));
        }
        if (s.has("$ref")) return ref(s, at);
        if (s.has("allOf")) {
            JsonNode all = s.get("allOf");
            if (!all.isArray() || all.size() != 1 || hasConstraints(s, "allOf")) {
                throw error(at + "/allOf", "allOf is supported only with a single schema and no sibling constraints");
            }
            return schema(all.get(0), at + "/allOf/0");
        }
        if (s.has("anyOf") || s.has("oneOf")) {
            String word = s.has("anyOf") ? "anyOf" : "oneOf";
            if (s.has("anyOf") && s.has("oneOf")) throw error(at, "anyOf and oneOf together are not supported");
            if (hasConstraints(s, word)) throw error(at, word + " with sibling constraints (" + constraintWords(s, word) + ") is not supported: move them into each branch");
            JsonNode branches = s.get(word);
            if (!branches.isArray() || branches.isEmpty()) throw error(at + "/" + word, "must be a non-empty array of schemas");
            if (word.equals("oneOf")) checkDisjoint(branches, at + "/oneOf");
            List<Expr> options = new ArrayList<>();
            for (int i = 0; i < branches.size(); i++) options.add(schema(branches.get(i), at + "/" + word + "/" + i));
            return Expr.alt(options);
        }
        if (s.has("const")) return enumOf(List.of(s.get("const")), s, at);
        if (s.has("enum")) {
            JsonNode values = s.get("enum");
            if (!values.isArray() || values.isEmpty()) throw error(at + "/enum", "must be a non-empty array");
            List<JsonNode> list = new ArrayList<>();
            values.forEach(list::add);
            return enumOf(list, s, at);
        }
        List<String> types = types(s, at);
        List<Expr> options = new ArrayList<>();
        for (String t : types) options.add(typed(t, s, at));
        return Expr.alt(options);
    }

    private static boolean hasConstraints(JsonNode s, String except) { return !constraintWords(s, except).isEmpty(); }

    private static String constraintWords(JsonNode s, String except) {
        List<String> words = new ArrayList<>();
        s.fieldNames().forEachRemaining(k -> { if (!k.equals(except) && !ANNOTATIONS.contains(k)) words.add(k); });
        return String.join(", ", words);
    }

    /** The JSON types a schema allows: its "type", else the one its keywords imply, else all. */
    private List<String> types(JsonNode s, String at) {
        JsonNode t = s.get("type");
        List<String> out = new ArrayList<>();
        if (t != null) {
            if (t.isTextual()) out.add(t.asText());
            else if (t.isArray()) t.forEach(x -> out.add(x.asText()));
            else throw error(at + "/type", "must be a string or an array of strings");
            for (String x : out) {
                if (!Set.of("object", "array", "string", "number", "integer", "boolean", "null").contains(x)) throw error(at + "/type", "unknown type '" + x + "'");
            }
            if (out.contains("integer") && out.contains("number")) out.remove("integer");
            return out;
        }
        for (Map.Entry<String, Set<String>> e : Map.of("object", OBJECT_WORDS, "array", ARRAY_WORDS, "string", STRING_WORDS, "number", NUMBER_WORDS).entrySet()) {
            for (String w : e.getValue()) if (s.has(w) && !out.contains(e.getKey())) out.add(e.getKey());
        }
        if (out.size() > 1) throw error(at, "keywords of several types (" + String.join(", ", out) + ") without a 'type' are not supported");
        return out.isEmpty() ? List.of("any") : out;
    }

    private Expr typed(String type, JsonNode s, String at) {
        checkOnly(s, type, at);
        return switch (type) {
            case "object" -> object(s, at);
            case "array" -> array(s, at);
            case "string" -> string(s, at);
            case "integer" -> integer(s, at);
            case "number" -> number(s, at);
            case "boolean" -> Expr.alt(Expr.lit("true"), Expr.lit("false"));
            case "null" -> Expr.lit("null");
            default -> anyValue();
        };
    }

    /** Keywords of another type than the one being built do nothing to it; keywords we cannot enforce are refused. */
    private static void checkOnly(JsonNode s, String type, String at) {
        if (s.has("uniqueItems") && s.get("uniqueItems").asBoolean(false) && type.equals("array")) {
            throw error(at, "the keyword 'uniqueItems' is not supported");
        }
    }

    // ---- objects

    private Expr object(JsonNode s, String at) {
        JsonNode props = s.path("properties");
        if (!props.isMissingNode() && !props.isObject()) throw error(at + "/properties", "must be an object");
        List<String> names = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        props.fieldNames().forEachRemaining(names::add);
        for (String n : names) values.add(schema(props.get(n), at + "/properties/" + escapePointer(n)));
        List<String> required = new ArrayList<>();
        JsonNode req = s.path("required");
        if (!req.isMissingNode()) {
            if (!req.isArray()) throw error(at + "/required", "must be an array of property names");
            req.forEach(r -> required.add(r.asText()));
        }
        JsonNode addl = s.get("additionalProperties");
        Expr additional; // null: none allowed
        if (addl == null) additional = props.isMissingNode() && !noAdditionalProperties ? anyValue() : null;
        else if (addl.isBoolean()) additional = addl.asBoolean() ? anyValue() : null;
        else additional = schema(addl, at + "/additionalProperties");
        for (String r : required) {
            if (!names.contains(r)) {
                if (additional == null) throw error(at + "/required", "'" + r + "' is required but not among the properties, and no others are allowed");
                names.add(r);
                values.add(additional);
            }
        }
        String id = "obj" + (counter++);
        int n = names.size();
        Expr comma = Expr.seq(Expr.lit(ws.comma()), ws.between());
        for (int i = n; i >= 0; i--) {
            for (boolean first : new boolean[] {true, false}) {
                Expr body;
                if (i == n) {
                    if (additional == null) {
                        body = Expr.EMPTY;
                    } else {
                        Expr kv = Expr.seq(Expr.lit("\""), JsonText.contentNotIn(names), Expr.lit("\""), ws.between(), Expr.lit(ws.colon()), ws.between(), additional, ws.between());
                        Expr more = Expr.star(Expr.seq(comma, kv));
                        body = first ? Expr.opt(Expr.seq(kv, more)) : more;
                    }
                } else {
                    Expr entry = Expr.seq(first ? Expr.EMPTY : comma, Expr.lit(JsonText.quote(names.get(i))), ws.between(), Expr.lit(ws.colon()),
                            ws.between(), values.get(i), ws.between(), new Expr.Ref(id + "_" + (i + 1) + "_n"));
                    body = required.contains(names.get(i)) ? entry : Expr.alt(entry, new Expr.Ref(id + "_" + (i + 1) + (first ? "_f" : "_n")));
                }
                rules.put(id + "_" + i + (first ? "_f" : "_n"), body);
            }
        }
        return Expr.seq(Expr.lit("{"), ws.between(), new Expr.Ref(id + "_0_f"), Expr.lit("}"));
    }

    // ---- arrays

    private Expr array(JsonNode s, String at) {
        List<Expr> prefix = new ArrayList<>();
        JsonNode items = s.get("items");
        JsonNode prefixItems = s.get("prefixItems");
        Expr rest;
        if (items != null && items.isArray()) { // draft 7 tuples
            if (prefixItems != null) throw error(at, "items as an array together with prefixItems");
            prefixItems = items;
            items = s.get("additionalItems");
        } else if (s.has("additionalItems")) {
            throw error(at, "the keyword 'additionalItems' is supported only with items as an array");
        }
        if (prefixItems != null) {
            if (!prefixItems.isArray()) throw error(at + "/prefixItems", "must be an array of schemas");
            for (int i = 0; i < prefixItems.size(); i++) prefix.add(schema(prefixItems.get(i), at + "/prefixItems/" + i));
        }
        rest = items == null ? anyValue() : schema(items, at + "/items");
        int min = intWord(s, "minItems", 0, at);
        int max = s.has("maxItems") ? intWord(s, "maxItems", 0, at) : -1;
        if (max >= 0 && max < min) throw error(at, "maxItems " + max + " is below minItems " + min);
        if (min > RegexParser.MAX_REPEAT || max > RegexParser.MAX_REPEAT) throw error(at, "item counts above " + RegexParser.MAX_REPEAT + " are not supported");
        Expr comma = Expr.seq(Expr.lit(ws.comma()), ws.between());
        Expr elements = elements(prefix, 0, rest, min, max, comma);
        return Expr.seq(Expr.lit("["), ws.between(), elements, Expr.lit("]"));
    }

    /** Elements from index i on (a comma before each but the first), between min and max in all. */
    private Expr elements(List<Expr> prefix, int i, Expr rest, int min, int max, Expr comma) {
        Expr sep = i == 0 ? Expr.EMPTY : comma;
        if (max >= 0 && i >= max) return Expr.EMPTY;
        if (i < prefix.size()) {
            Expr here = Expr.seq(sep, prefix.get(i), ws.between(), elements(prefix, i + 1, rest, min, max, comma));
            return i >= min ? Expr.opt(here) : here;
        }
        // Items after the tuple: (min - i) required, then up to (max - min) optional, or any number.
        int need = Math.max(0, min - i);
        Expr item = Expr.seq(comma, rest, ws.between());
        Expr firstItem = Expr.seq(sep, rest, ws.between());
        int upTo = max < 0 ? -1 : max - i;
        if (upTo == 0) return Expr.EMPTY;
        Expr tail = new Expr.Repeat(item, Math.max(0, need - 1), upTo < 0 ? -1 : upTo - 1);
        Expr all = Expr.seq(firstItem, tail);
        return need > 0 ? all : Expr.opt(all);
    }

    // ---- strings

    private Expr string(JsonNode s, String at) {
        int minLen = intWord(s, "minLength", 0, at);
        int maxLen = s.has("maxLength") ? intWord(s, "maxLength", 0, at) : -1;
        if (maxLen >= 0 && maxLen < minLen) throw error(at, "maxLength " + maxLen + " is below minLength " + minLen);
        boolean bounded = s.has("minLength") || s.has("maxLength");
        Expr content;
        if (s.has("pattern") || s.has("format")) {
            if (s.has("pattern") && s.has("format")) throw error(at, "pattern together with format is not supported");
            String word = s.has("pattern") ? "pattern" : "format";
            if (bounded) throw error(at, word + " together with minLength/maxLength is not supported: put the length into the pattern");
            Expr regex;
            if (s.has("pattern")) {
                try {
                    regex = RegexParser.parse(s.get("pattern").asText());
                } catch (ConstraintException e) {
                    throw error(at + "/pattern", e.getMessage());
                }
            } else {
                regex = Formats.of(s.get("format").asText(), at + "/format");
            }
            content = JsonText.escaped(regex);
        } else {
            if (minLen > RegexParser.MAX_REPEAT || maxLen > RegexParser.MAX_REPEAT) throw error(at, "string lengths above " + RegexParser.MAX_REPEAT + " are not supported");
            content = new Expr.Repeat(bounded ? JsonText.anyChar() : new Expr.Ref(anyCharRule()), minLen, maxLen);
        }
        return Expr.seq(Expr.lit("\""), content, Expr.lit("\""));
    }

    private String anyCharRule() {
        rules.putIfAbsent("json_char", JsonText.anyChar());
        return "json_char";
    }

    // ---- numbers

    private Expr integer(JsonNode s, String at) {
        Bound lo = bound(s, "minimum", "exclusiveMinimum", true, at), hi = bound(s, "maximum", "exclusiveMaximum", false, at);
        Long min = lo == null ? null : lo.inclusive ? lo.value : lo.value + 1;
        Long max = hi == null ? null : hi.inclusive ? hi.value : hi.value - 1;
        return JsonText.integers(min, max);
    }

    private Expr number(JsonNode s, String at) {
        Bound lo = bound(s, "minimum", "exclusiveMinimum", true, at), hi = bound(s, "maximum", "exclusiveMaximum", false, at);
        if (lo == null && hi == null) return JsonText.number();
        return JsonText.number(lo == null ? null : lo.value, lo == null || lo.inclusive, hi == null ? null : hi.value, hi == null || hi.inclusive);
    }

    private record Bound(long value, boolean inclusive) {}

    /** The tighter of the inclusive and exclusive bound (draft 4's boolean exclusive form too). */
    private static Bound bound(JsonNode s, String incl, String excl, boolean lower, String at) {
        Bound b = null;
        JsonNode e = s.get(excl);
        if (s.has(incl)) b = new Bound(integral(s.get(incl), at + "/" + incl), !(e != null && e.isBoolean() && e.asBoolean()));
        if (e != null && !e.isBoolean()) {
            Bound x = new Bound(integral(e, at + "/" + excl), false);
            if (b == null || (lower ? x.value >= b.value : x.value <= b.value)) b = x;
        }
        return b;
    }

    private static long integral(JsonNode n, String at) {
        if (!n.isNumber()) throw error(at, "must be a number");
        double d = n.asDouble();
        if (d != Math.rint(d)) throw error(at, "only whole-number bounds are supported, not " + n.asText());
        if (Math.abs(d) > JsonText.MAX_INTEGER) throw error(at, "bounds beyond 16 digits are not supported");
        return (long) d;
    }

    private static int intWord(JsonNode s, String word, int dflt, String at) {
        JsonNode n = s.get(word);
        if (n == null) return dflt;
        if (!n.canConvertToInt() || n.asInt() < 0 || (n.isFloatingPointNumber() && n.asDouble() != Math.rint(n.asDouble()))) {
            throw error(at + "/" + word, "must be a non-negative integer");
        }
        return n.asInt();
    }

    // ---- enum, const, any value

    private Expr enumOf(List<JsonNode> values, JsonNode s, String at) {
        List<String> types = s.has("type") ? types(s, at) : null;
        List<Expr> options = new ArrayList<>();
        for (JsonNode v : values) {
            if (types != null && !types.contains(typeOf(v)) && !(typeOf(v).equals("integer") && types.contains("number"))) continue;
            try {
                options.add(Expr.lit(JSON.writeValueAsString(v)));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw error(at, e.getMessage());
            }
        }
        return Expr.alt(options);
    }

    private static String typeOf(JsonNode v) {
        if (v.isObject()) return "object";
        if (v.isArray()) return "array";
        if (v.isTextual()) return "string";
        if (v.isIntegralNumber() || (v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) return "integer";
        if (v.isNumber()) return "number";
        if (v.isBoolean()) return "boolean";
        return "null";
    }

    /** Any JSON value: recursive rules shared by every place that takes one. */
    private Expr anyValue() {
        if (!rules.containsKey("json_value")) {
            Expr comma = Expr.seq(Expr.lit(ws.comma()), ws.between());
            Expr value = new Expr.Ref("json_value");
            Expr string = Expr.seq(Expr.lit("\""), Expr.star(new Expr.Ref(anyCharRule())), Expr.lit("\""));
            rules.put("json_string", string);
            Expr kv = Expr.seq(new Expr.Ref("json_string"), ws.between(), Expr.lit(ws.colon()), ws.between(), value, ws.between());
            rules.put("json_object", Expr.seq(Expr.lit("{"), ws.between(), Expr.opt(Expr.seq(kv, Expr.star(Expr.seq(comma, kv)))), Expr.lit("}")));
            Expr item = Expr.seq(value, ws.between());
            rules.put("json_array", Expr.seq(Expr.lit("["), ws.between(), Expr.opt(Expr.seq(item, Expr.star(Expr.seq(comma, item)))), Expr.lit("]")));
            rules.put("json_value", Expr.alt(new Expr.Ref("json_object"), new Expr.Ref("json_array"), new Expr.Ref("json_string"),
                    JsonText.number(), Expr.lit("true"), Expr.lit("false"), Expr.lit("null")));
        }
        return new Expr.Ref("json_value");
    }

    // ---- references

    private Expr ref(JsonNode s, String at) {
        if (hasConstraints(s, "$ref")) throw error(at, "$ref with sibling constraints (" + constraintWords(s, "$ref") + ") is not supported");
        String ref = s.get("$ref").asText();
        if (!ref.startsWith("#")) throw error(at + "/$ref", "only references inside the schema (#/...) are supported, not '" + ref + "'");
        String rule = refRules.get(ref);
        if (rule == null) {
            rule = "ref" + refRules.size();
            refRules.put(ref, rule);
            rules.put(rule, Expr.EMPTY); // a placeholder while the target is built, for recursive references
            rules.put(rule, schema(resolve(ref, at), ref));
        }
        return new Expr.Ref(rule);
    }

    private JsonNode resolve(String ref, String at) {
        JsonNode cur = root;
        String pointer = URLDecoder.decode(ref.substring(1), StandardCharsets.UTF_8);
        if (pointer.isEmpty()) return cur;
        if (!pointer.startsWith("/")) throw error(at + "/$ref", "'" + ref + "' is not a JSON pointer (anchors are not supported)");
        for (String part : pointer.substring(1).split("/", -1)) {
            String key = part.replace("~1", "/").replace("~0", "~");
            cur = cur.isArray() && key.matches("\\d+") ? cur.path(Integer.parseInt(key)) : cur.path(key);
            if (cur.isMissingNode()) throw error(at + "/$ref", "'" + ref + "' points to nothing");
        }
        return cur;
    }

    private static String escapePointer(String name) { return name.replace("~", "~0").replace("/", "~1"); }

    // ---- oneOf

    /**
     * oneOf is anyOf when no value can match two branches. We accept it when that is evident: the
     * branches allow disjoint JSON types, or they are objects each requiring a property that the
     * other may not have, or constants that differ.
     */
    private void checkDisjoint(JsonNode branches, String at) {
        for (int i = 0; i < branches.size(); i++) {
            for (int j = i + 1; j < branches.size(); j++) {
                if (!disjoint(deref(branches.get(i)), deref(branches.get(j)))) {
                    throw error(at, "oneOf branches " + i + " and " + j + " may both match one value, which constrained decoding cannot exclude: use anyOf, or make the branches disjoint");
                }
            }
        }
    }

    private JsonNode deref(JsonNode s) {
        for (int hops = 0; s.isObject() && s.has("$ref") && hops < 32; hops++) s = resolve(s.get("$ref").asText(), "oneOf");
        return s;
    }

    private boolean disjoint(JsonNode a, JsonNode b) {
        if (!a.isObject() || !b.isObject()) return false;
        Set<String> ta = typeSet(a), tb = typeSet(b);
        if (ta != null && tb != null && java.util.Collections.disjoint(ta, tb)) return true;
        JsonNode ca = a.has("const") ? a.get("const") : null, cb = b.has("const") ? b.get("const") : null;
        if (ca != null && cb != null) return !ca.equals(cb);
        if (Set.of("object").equals(ta) && Set.of("object").equals(tb)) return requiresUnknown(a, b) || requiresUnknown(b, a);
        return false;
    }

    /** {@code a} requires a property that {@code b} cannot have. */
    private boolean requiresUnknown(JsonNode a, JsonNode b) {
        boolean bClosed = b.has("properties") && (!b.has("additionalProperties") || b.get("additionalProperties").equals(JSON.getNodeFactory().booleanNode(false)));
        if (!bClosed) return false;
        for (JsonNode r : a.path("required")) if (!b.path("properties").has(r.asText())) return true;
        return false;
    }

    private static Set<String> typeSet(JsonNode s) {
        JsonNode t = s.get("type");
        if (t == null) return s.has("properties") ? Set.of("object") : null;
        Set<String> out = new java.util.HashSet<>();
        if (t.isArray()) t.forEach(x -> out.add(x.asText())); else out.add(t.asText());
        if (out.contains("number")) out.add("integer");
        if (out.contains("integer")) out.add("number");
        return out;
    }
}
