"""Writes chat-template-cases.json: the test templates rendered by Python Jinja2 exactly as
transformers' apply_chat_template sets it up (sandbox, trim_blocks, lstrip_blocks, loopcontrols,
tojson with ensure_ascii=False, raise_exception). Run from this folder: python3 make_chat_template_cases.py"""
import json
import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

SPECIAL = {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>", "pad_token": "<｜▁pad▁｜>"}

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city, «today»",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
        "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
        "units": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}}
CALL = lambda name, args: {"type": "function", "function": {"name": name, "arguments": args}}

CASES = [
    ("deepseek: system, think, multi-turn", "deepseek-v3-like.jinja", [
        {"role": "system", "content": "You write Python."},
        {"role": "user", "content": "sort a list"},
        {"role": "assistant", "content": "<think>easy</think>\n\n  sorted(xs)  "},
        {"role": "user", "content": "in reverse {{ bos_token }}"}], True, {}),
    ("deepseek: two system prompts, no generation prompt", "deepseek-v3-like.jinja", [
        {"role": "system", "content": "A"}, {"role": "system", "content": "B"},
        {"role": "user", "content": "hi"}], False, {}),
    ("deepseek: tool calls and outputs", "deepseek-v3-like.jinja", [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            CALL("get_weather", "{\"city\": \"Paris\"}"), CALL("get_weather", "{\"city\": \"Rome\"}")]},
        {"role": "tool", "content": "18C"}, {"role": "tool", "content": "24C"},
        {"role": "assistant", "content": "Paris 18C, Rome 24C."},
        {"role": "user", "content": "thanks"}], True, {}),
    ("deepseek: ends on tool output", "deepseek-v3-like.jinja", [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [CALL("get_weather", "{}")]},
        {"role": "tool", "content": "sunny"}], True, {}),
    ("deepseek: unknown role raises", "deepseek-v3-like.jinja", [
        {"role": "wizard", "content": "abracadabra"}], True, {}),
    ("llama: system and user", "llama-3-like.jinja", [
        {"role": "system", "content": "  Be brief.  "},
        {"role": "user", "content": "  What is 2+2?\n"}], True, {"date_string": "28 Nov 2026"}),
    ("llama: no system, no generation prompt, loop.last and string methods", "llama-3-like.jinja", [
        {"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi!"},
        {"role": "user", "content": "/help me"}], False, {}),
    ("llama: tools with tojson(indent=4), tool call and result", "llama-3-like.jinja", [
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "tool_calls": [CALL("get_weather", {"city": "Zürich", "days": 2, "scale": 0.5, "alerts": None, "ok": True})]},
        {"role": "tool", "content": {"temp": 21, "sky": "clear"}},
        {"role": "tool", "content": "plain text result"}], True, {"tools": [WEATHER_TOOL]}),
    ("llama: two tool calls raise", "llama-3-like.jinja", [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [CALL("a", {}), CALL("b", {})]}], True, {}),
]

out = []
for name, template_file, messages, agp, extra in CASES:
    template = env.from_string(open(template_file, encoding="utf-8").read())
    case = {"name": name, "template": template_file, "messages": messages, "add_generation_prompt": agp, "extra": extra}
    try:
        case["text"] = template.render(messages=messages, add_generation_prompt=agp, **SPECIAL, **extra)
    except jinja2.exceptions.TemplateError as e:
        case["error"] = str(e)
    out.append(case)
with open("chat-template-cases.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
