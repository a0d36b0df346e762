package dev.pdserve.tokenizer.jinja;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What chat templates rely on, each expectation what Python jinja2 3.1 renders with transformers' settings. */
class JinjaSemanticsTest {
    private static String render(String template, Map<String, ?> vars) { return Template.parse(template).render(vars); }

    private static String render(String template) { return render(template, Map.of()); }

    @Test
    void whitespaceControlTrimBlocksAndLstripBlocks() {
        assertThat(render("[{{ x }} {% if true %}B{% endif %}]", Map.of("x", "hi"))).isEqualTo("[hi B]");
        assertThat(render("a  \n  {%- if true -%}  \n  b  {%+ if true %}c{% endif +%}\n{# note #}\n  {% if true %}\nd{% endif %}{% endif %}\n"))
                .isEqualTo("ab  c\nd");
        assertThat(render("line\n    {% if true %}\n    kept\n    {% endif %}\nend\n")).isEqualTo("line\n    kept\nend");
    }

    @Test
    void valuesPrintAsPython() {
        assertThat(render("{{ true }} {{ false }} {{ none }} {{ 1.0 }} {{ 10 / 4 }} {{ 7 // 2 }} {{ -7 % 3 }} {{ [1, 'a', none, true] }} {{ {'k': [1.5, none]} }}"))
                .isEqualTo("True False None 1.0 2.5 3 2 [1, 'a', None, True] {'k': [1.5, None]}");
        assertThat(render("{{ a == 1.0 }}{{ 'a' in 'cat' }}{{ 2 in [1, 2] }}{{ 'k' in {'k': 1} }}{{ 'z' not in 'cat' }}{{ 1 < 2 < 3 }}{{ not 1 == 2 }}{{ (1, 2) }}{{ (1,) }}{{ 'a' ~ 1 ~ none }}",
                Map.of("a", 1))).isEqualTo("TrueTrueTrueTrueTrueTrueTrue(1, 2)(1,)a1None");
    }

    @Test
    void namespacesLoopsAndSlices() {
        Map<String, Object> vars = Map.of("messages", List.of("a", "b", "c"));
        assertThat(render("{% set ns = namespace(a=messages|length - 1, seen=false) %}{% for m in messages %}{% if loop.index0 == ns.a %}"
                + "{% set ns.seen = true %}last={{ m }}{% endif %}{% endfor %}|{{ ns.a }}|{{ ns.seen }}", vars)).isEqualTo("last=c|2|True");
        assertThat(render("{% for m in messages %}{{ m }}{% if not loop.last %}, {% endif %}{% endfor %}|{{ messages[1:] }}|{{ messages[::-1] }}"
                + "|{{ messages[-1] }}|{{ 'hello'[1:3] }}", vars)).isEqualTo("a, b, c|['b', 'c']|['c', 'b', 'a']|c|el");
        assertThat(render("{%- for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}"
                + "|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}",
                Map.of("d", ordered("a", 1, "b", 2)))).isEqualTo("02|a=1;b=2;|empty");
        // a set inside a loop is gone after it: that is why templates use namespace()
        assertThat(render("{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}[{{ x }}]")).isEqualTo("5152[5]");
    }

    @Test
    void definedTestsAndUndefinedValues() {
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("x", null);
        vars.put("m", Map.of("k", 1));
        assertThat(render("{% if x is defined %}d{% else %}u{% endif %}{% if not y is defined %}!{% endif %}{{ m.missing is defined }}{{ m.k is defined }}", vars))
                .isEqualTo("d!FalseTrue");
        assertThat(render("[{{ nothing }}]{{ nothing | length }}{{ nothing | default('x') }}")).isEqualTo("[]0x");
        assertThatThrownBy(() -> render("{{ nothing.attribute }}")).isInstanceOf(TemplateException.class).hasMessageContaining("'nothing' is undefined");
        assertThatThrownBy(() -> render("{{ 'a' + none }}")).isInstanceOf(TemplateException.class).hasMessageContaining("can only concatenate str");
    }

    @Test
    void stringMethodsAndFilters() {
        assertThat(render("{{ '  a b  '.strip() }}|{{ 'a,b,'.split(',') }}|{{ ' a  b '.split() }}|{{ 'abc'.startswith(('x', 'a')) }}|{{ 'hello wORLD'.title() }}"
                + "|{{ 'a-b-c'.replace('-', '+', 1) }}|{{ 'x'.join(['1','2']) }}|{{ 'Tab'.upper() }}{{ 'Tab'.lower() }}|{{ '<think>x</think>y'.split('</think>')[-1].lstrip() }}"))
                .isEqualTo("a b|['a', 'b', '']|['a', 'b']|True|Hello World|a+b-c|1x2|TABtab|y");
        assertThat(render("{{ '%s and %d' % ('a', 3) }}|{{ '{} {name}'.format(1, name='n') }}|{{ [3, 1, 2] | sort | join(',') }}|{{ users | map(attribute='n') | list }}"
                + "|{{ users | selectattr('admin') | map(attribute='n') | first }}|{{ 'x' if false }}|{{ 'y' if 0 else 'z' }}",
                Map.of("users", List.of(ordered("n", "ann", "admin", false), ordered("n", "bob", "admin", true)))))
                .isEqualTo("a and 3|1 n|1,2,3|['ann', 'bob']|bob||z");
        assertThat(render("{{ x | default('d') }}{{ '' | default('e', true) }}{{ none | string }}{{ [1,2] | length }}{{ 'abc' | length }}{{ '  t ' | trim }}"
                + "{{ 3.7 | int }}{{ '5' | int + 1 }}{{ 2.675 | round(2) }}{{ -3 | abs }}")).isEqualTo("deNone23t362.673");
        assertThat(render("{% macro tag(name, body='-') %}<{{ name }}>{{ body }}{{ varargs }}</{{ name }}>{% endmacro %}{{ tag('a') }}{{ tag('b', 'x', 'y') }}{{ tag(name='c', body=1) }}"))
                .isEqualTo("<a>-()</a><b>x('y',)</b><c>1()</c>");
        assertThat(render("{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]{% filter upper %}up{% endfilter %}{% generation %}gen{% endgeneration %}"))
                .isEqualTo("[inner 2]UPgen");
    }

    @Test
    void tojsonIsPythonsJsonDumpsWithEnsureAsciiOff() {
        Map<String, Object> d = ordered("b", "Zürich", "a", java.util.Arrays.asList(1, 2.5, null, true));
        assertThat(render("{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"' | tojson }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ d | tojson(sort_keys=true) }}", Map.of("d", d)))
                .isEqualTo("{\"b\": \"Zürich\", \"a\": [1, 2.5, null, true]}|{\n  \"b\": \"Zürich\",\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}"
                        + "|\"é\\\"\"|\"\\u00e9\"|{\"a\": [1, 2.5, null, true], \"b\": \"Zürich\"}");
        assertThat(Py.floatRepr(1e-5)).isEqualTo("1e-05");
        assertThat(Py.floatRepr(1e16)).isEqualTo("1e+16");
        assertThat(Py.floatRepr(123456789.0)).isEqualTo("123456789.0");
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessage() {
        assertThatThrownBy(() -> render("{% if messages | length == 0 %}{{ raise_exception('Conversation must not be empty') }}{% endif %}", Map.of("messages", List.of())))
                .isInstanceOfSatisfying(TemplateException.class, e -> assertThat(e.raisedByTemplate()).isTrue())
                .hasMessage("Conversation must not be empty");
        assertThatThrownBy(() -> render("{{ [].append(1) }}")).isInstanceOfSatisfying(TemplateException.class, e -> assertThat(e.raisedByTemplate()).isFalse())
                .hasMessageContaining("SecurityError"); // the immutable sandbox
        assertThatThrownBy(() -> Template.parse("{% if x %}")).isInstanceOf(TemplateException.class).hasMessageContaining("TemplateSyntaxError");
    }

    @Test
    void strftimeNowUsesTheClock() {
        Clock clock = Clock.fixed(Instant.parse("2026-03-07T09:05:00Z"), ZoneOffset.UTC);
        assertThat(Template.parse("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %-d, %Y %H:%M') }}|{{ strftime_now('%A %j') }}").render(Map.of(), clock))
                .isEqualTo("07 Mar 2026|March 7, 2026 09:05|Saturday 066");
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
