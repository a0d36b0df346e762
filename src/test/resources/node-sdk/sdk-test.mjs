// The official OpenAI Node SDK against a real `pdserve serve` (tiny random model, started with
// --enable-auto-tool-choice --tool-call-parser hermes): tool calls forced by tool_choice (named and
// required, whole and streamed), a tool result round trip, tool_choice auto, and structured output
// through response_format json_schema, whole and streamed. Exits non-zero on the first failed check.
import assert from "node:assert/strict";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.PDSERVE_BASE_URL, apiKey: "unused", maxRetries: 0, timeout: 300_000 });
const model = process.env.PDSERVE_MODEL;
let checks = 0;
const check = (what, fn) => { fn(); checks++; console.log("ok - " + what); };

// Bounded parameters: a random model must finish its arguments within max_tokens.
const tools = [
  { type: "function", function: { name: "get_weather", description: "Weather in a city",
      parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
        required: ["city", "unit"], additionalProperties: false } } },
  { type: "function", function: { name: "get_time", description: "Time in a time zone",
      parameters: { type: "object", properties: { offset: { type: "integer", minimum: -12, maximum: 14 } }, required: ["offset"], additionalProperties: false } } },
];
const messages = [{ role: "user", content: "What is the weather in Paris, and the time there?" }];

function validWeather(args) {
  const a = JSON.parse(args);
  assert.equal(typeof a.city, "string");
  assert.ok(a.city.length <= 12);
  assert.ok(["celsius", "fahrenheit"].includes(a.unit));
  assert.deepEqual(Object.keys(a).sort(), ["city", "unit"]);
}

function validCall(call) {
  assert.equal(call.type, "function");
  assert.match(call.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
  if (call.function.name === "get_weather") validWeather(call.function.arguments);
  else {
    assert.equal(call.function.name, "get_time");
    const a = JSON.parse(call.function.arguments);
    assert.ok(Number.isInteger(a.offset) && a.offset >= -12 && a.offset <= 14);
  }
}

/** Accumulates a streamed chat completion as SDK users do: content, and tool calls by index. */
async function collect(stream) {
  let content = "", finish = null, nameFirst = true;
  const calls = [];
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      if (ch.delta?.content) content += ch.delta.content;
      for (const tc of ch.delta?.tool_calls ?? []) {
        if (!calls[tc.index]) {
          calls[tc.index] = { id: tc.id, type: tc.type, function: { name: tc.function?.name, arguments: "" } };
          nameFirst &&= Boolean(tc.id && tc.function?.name);
        }
        calls[tc.index].function.arguments += tc.function?.arguments ?? "";
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { content, calls, finish, nameFirst };
}

const named = await client.chat.completions.create({ model, messages, tools, max_tokens: 300,
  tool_choice: { type: "function", function: { name: "get_weather" } } });
check("named tool_choice gives a valid call of that function", () => {
  const m = named.choices[0].message;
  assert.equal(m.tool_calls.length, 1);
  assert.equal(m.tool_calls[0].function.name, "get_weather");
  validCall(m.tool_calls[0]);
  assert.equal(named.choices[0].finish_reason, "stop");
});

const required = await client.chat.completions.create({ model, messages, tools, max_tokens: 400, tool_choice: "required", temperature: 1, seed: 7 });
check("required tool_choice gives valid calls and finish_reason tool_calls", () => {
  const m = required.choices[0].message;
  assert.ok(m.tool_calls.length >= 1);
  m.tool_calls.forEach(validCall);
  assert.equal(required.choices[0].finish_reason, "tool_calls");
});

const single = await client.chat.completions.create({ model, messages, tools, max_tokens: 400, tool_choice: "required", parallel_tool_calls: false });
check("parallel_tool_calls false gives one call", () => {
  assert.equal(single.choices[0].message.tool_calls.length, 1);
  validCall(single.choices[0].message.tool_calls[0]);
});

const streamedNamed = await collect(await client.chat.completions.create({ model, messages, tools, max_tokens: 300, stream: true,
  tool_choice: { type: "function", function: { name: "get_weather" } } }));
check("streamed named call: id and name first, arguments add up", () => {
  assert.ok(streamedNamed.nameFirst);
  assert.equal(streamedNamed.calls.length, 1);
  validCall(streamedNamed.calls[0]);
});

const streamedRequired = await collect(await client.chat.completions.create({ model, messages, tools, max_tokens: 400, stream: true, tool_choice: "required" }));
check("streamed required calls", () => {
  assert.ok(streamedRequired.nameFirst);
  assert.ok(streamedRequired.calls.length >= 1);
  streamedRequired.calls.forEach(validCall);
  assert.equal(streamedRequired.finish, "tool_calls");
});

const call = named.choices[0].message.tool_calls[0];
// content "" rather than null: the tiny model's template is not tool-aware and adds content to a string
const followUp = await client.chat.completions.create({ model, tools, max_tokens: 8, tool_choice: "auto", messages: [...messages,
  { role: "assistant", content: "", tool_calls: [call] },
  { role: "tool", tool_call_id: call.id, content: "22 degrees, sunny" }] });
check("a tool result goes back in and tool_choice auto answers", () => {
  const c = followUp.choices[0];
  assert.ok(["stop", "length", "tool_calls"].includes(c.finish_reason));
  assert.equal(typeof (c.message.content ?? ""), "string");
});

const schema = { type: "object", additionalProperties: false, required: ["name", "tags", "score", "address"],
  properties: {
    name: { type: "string", pattern: "^[A-Z][a-z]{1,8}$" },
    tags: { type: "array", minItems: 1, maxItems: 3, items: { type: "string", enum: ["red", "green", "blue"] } },
    score: { type: "integer", minimum: 0, maximum: 100 },
    address: { type: "object", additionalProperties: false, required: ["zip"], properties: { zip: { type: "string", pattern: "^[0-9]{5}$" } } },
  } };
function validThing(text) {
  const t = JSON.parse(text);
  assert.match(t.name, /^[A-Z][a-z]{1,8}$/);
  assert.ok(t.tags.length >= 1 && t.tags.length <= 3 && t.tags.every((x) => ["red", "green", "blue"].includes(x)));
  assert.ok(Number.isInteger(t.score) && t.score >= 0 && t.score <= 100);
  assert.match(t.address.zip, /^[0-9]{5}$/);
  assert.deepEqual(Object.keys(t).sort(), ["address", "name", "score", "tags"]);
}
const rf = { type: "json_schema", json_schema: { name: "thing", strict: true, schema } };
const structured = await client.chat.completions.create({ model, messages: [{ role: "user", content: "A thing, as JSON." }], response_format: rf, max_tokens: 400 });
check("response_format json_schema: the content validates", () => {
  assert.equal(structured.choices[0].finish_reason, "stop");
  validThing(structured.choices[0].message.content);
});

const streamedThing = await collect(await client.chat.completions.create({ model, messages: [{ role: "user", content: "Another thing." }],
  response_format: rf, max_tokens: 400, stream: true, n: 1, temperature: 1, seed: 3 }));
check("streamed response_format json_schema validates", () => {
  assert.equal(streamedThing.finish, "stop");
  validThing(streamedThing.content);
});

const jsonObject = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Any JSON object." }],
  response_format: { type: "json_object" }, max_tokens: 200, temperature: 0 });
check("response_format json_object starts an object", () => {
  const c = jsonObject.choices[0];
  if (c.finish_reason === "stop") assert.equal(typeof JSON.parse(c.message.content), "object");
  else assert.ok(c.message.content.startsWith("{"));
});

try {
  await client.chat.completions.create({ model, messages, response_format: { type: "json_schema", json_schema: { name: "bad", schema: { type: "strin" } } } });
  assert.fail("a bad schema was accepted");
} catch (e) {
  check("a bad schema is a BadRequestError naming response_format", () => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.param, "response_format");
  });
}

console.log(`OK ${checks} checks`);
