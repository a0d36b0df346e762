#!/usr/bin/python3
"""Reference renderings of the chat-template corpus, as transformers' apply_chat_template renders them.

Run with Debian's python3-jinja2 (apt-get install python3-jinja2), from the repository root:
    /usr/bin/python3 src/test/python/render_chat_templates.py
It reads src/test/resources/chat-templates/{*.jinja, conversations.json} and writes one
<template>.expected.json per template beside them: for each case the rendered text, or the error.
The Jinja environment is set up as transformers sets it up (utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols + {% generation %}),
tojson = json.dumps(ensure_ascii=False, ...), raise_exception, strftime_now; the template gets
messages, tools, documents, add_generation_prompt, the special tokens and the chat_template_kwargs.
strftime_now uses the fixed "now" of conversations.json so fixtures stay the same from day to day.
"""
import datetime
import json
import pathlib
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2] / "test" / "resources" / "chat-templates"


class Generation(Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(template, case, spec):
    variables = dict(spec["variables"])
    variables.update(case.get("kwargs", {}))
    try:
        text = template.render(messages=case["messages"], tools=spec["tools"] if case.get("tools") else None,
                               documents=spec["documents"] if case.get("documents") else None, add_generation_prompt=case["add_generation_prompt"], **variables)
        return {"text": text}
    except jinja2.exceptions.TemplateError as e:
        if type(e) is jinja2.exceptions.TemplateError:  # raise_exception(...)
            return {"raised": str(e)}
        return {"error": type(e).__name__ + ": " + str(e)}
    except Exception as e:
        return {"error": type(e).__name__ + ": " + str(e)}


def main():
    spec = json.loads((ROOT / "conversations.json").read_text(encoding="utf-8"))
    env = environment(datetime.datetime.fromisoformat(spec["now"]))
    names = sorted(p.stem for p in ROOT.glob("*.jinja"))
    for name in names:
        template = env.from_string((ROOT / (name + ".jinja")).read_text(encoding="utf-8"))
        expected = {"jinja2": jinja2.__version__, "cases": {c["name"]: render(template, c, spec) for c in spec["cases"]}}
        (ROOT / (name + ".expected.json")).write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(names)} templates x {len(spec['cases'])} cases, jinja2 {jinja2.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
