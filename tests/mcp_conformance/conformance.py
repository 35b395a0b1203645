"""MCP conformance of `vault-audit mcp`, driven by the official Python SDK.

Usage: python3 conformance.py <vault-audit binary> <vault folder>

Over the initialize handshake (2025-11-25) and over server/discover
(2026-07-28), it lists the tools and checks, from the schemas the server
advertises alone:

- each tool answers its required arguments alone, and every enum value a
  tool's inputSchema offers is accepted (no isError), the structuredContent
  matching the outputSchema (the SDK validates it);
- each required field left out gives a tool error naming that field;
- an over-long value is cut and a secret-bearing one redacted, in the tool's
  output and on disk.

Exits non-zero with a message on the first failure.
"""

import asyncio
import json
import pathlib
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

SECRET = "hunter2hunter2hunter2"
KEY = "sk-ant-api03-" + "Q" * 40
LONG = "x" * 5000


def fail(message):
    raise AssertionError(message)


def resolve(schema, root):
    """The schema with a local $ref followed."""
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return root["$defs"][ref[len("#/$defs/"):]]
    return schema


def enum_values(schema, root):
    """Every non-null enum value offered at this property, with its shape:
    (value, as_list) where as_list means it sits in an array's items."""
    schema = resolve(schema, root)
    out = []
    for value in schema.get("enum", []):
        if value is not None:
            out.append((value, False))
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        out.extend(enum_values(branch, root))
    items = schema.get("items")
    if isinstance(items, dict):
        out.extend((v, True) for v, _ in enum_values(items, root))
    return out


def sample(name, schema, root):
    """A value for a required property that its schema allows."""
    schema = resolve(schema, root)
    values = enum_values(schema, root)
    if values:
        return values[0][0]
    if "pattern" in schema and schema["pattern"].startswith("^[a-z]"):
        return "conformance_check"
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types:
        return f"conformance {name}"
    if "integer" in types or "number" in types:
        return schema.get("minimum", 1)
    if "boolean" in types:
        return False
    if "object" in types:
        return {}
    fail(f"no sample for {name}: {schema}")


def base_arguments(tool):
    schema = tool.input_schema
    props = schema.get("properties", {})
    return {k: sample(k, props[k], schema) for k in schema.get("required", [])}


def text_of(result):
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def call(session, name, arguments):
    # The SDK validates structuredContent against the outputSchema itself.
    return await session.call_tool(name, arguments)


async def every_enum_value_is_accepted(session, tool):
    schema = tool.input_schema
    base = base_arguments(tool)
    checked = 0
    for prop, prop_schema in schema.get("properties", {}).items():
        for value, as_list in enum_values(prop_schema, schema):
            args = dict(base)
            args[prop] = [value] if as_list else value
            result = await call(session, tool.name, args)
            if result.is_error:
                fail(f"{tool.name}: advertised {prop}={args[prop]!r} refused: {text_of(result)}")
            if tool.output_schema is not None and result.structured_content is None:
                fail(f"{tool.name}: no structuredContent for {prop}={args[prop]!r}")
            checked += 1
    return checked


async def each_required_field_missing_is_named(session, tool):
    base = base_arguments(tool)
    for field in tool.input_schema.get("required", []):
        args = {k: v for k, v in base.items() if k != field}
        result = await call(session, tool.name, args)
        if not result.is_error:
            fail(f"{tool.name}: accepted without required {field}")
        if field not in text_of(result):
            fail(f"{tool.name}: the error for a missing {field} does not name it: {text_of(result)}")


def vault_bytes(vault):
    return b"".join(p.read_bytes() for p in pathlib.Path(vault).rglob("*") if p.is_file())


async def long_and_secret_values_are_cut_and_redacted(session, vault):
    result = await call(
        session,
        "log_action",
        {
            "action_type": "tool_call",
            "target": f"deploy with password={SECRET}",
            "error_message": LONG,
            "parameters": {"api_key": KEY, "note": f"token: {SECRET}"},
        },
    )
    if result.is_error:
        fail(f"log_action refused a long, secret-bearing entry: {text_of(result)}")
    shown = json.dumps(result.structured_content) + text_of(result)
    for secret in (SECRET, KEY):
        if secret in shown:
            fail(f"log_action output shows a secret: {secret}")
    entry = result.structured_content["entry"]
    if len(entry["error_message"]) >= len(LONG) or "[truncated" not in entry["error_message"]:
        fail(f"an over-long value was not cut: {len(entry['error_message'])} characters")
    # A secret in a refused value is redacted in the error too.
    refused = await call(session, "log_action", {"action_type": f"password={SECRET}", "target": "t"})
    if not refused.is_error or SECRET in text_of(refused):
        fail(f"a refused secret-bearing value: {text_of(refused)}")
    on_disk = vault_bytes(vault)
    for secret in (SECRET, KEY):
        if secret.encode() in on_disk:
            fail(f"a secret reached the disk: {secret}")
    if LONG.encode() in on_disk:
        fail("an over-long value reached the disk whole")
    found = await call(session, "query_logs", {"contains": "deploy with", "limit": 1})
    if found.is_error or found.structured_content["returned"] != 1:
        fail(f"query_logs did not find the entry: {text_of(found)}")
    if SECRET in json.dumps(found.structured_content):
        fail("query_logs shows a secret")


async def exercise(session, vault, how):
    tools = (await session.list_tools()).tools
    names = sorted(t.name for t in tools)
    for wanted in ("log_action", "query_logs"):
        if wanted not in names:
            fail(f"{how}: tool {wanted} missing from {names}")
    checked = 0
    for tool in tools:
        if tool.input_schema.get("type") != "object":
            fail(f"{tool.name}: inputSchema is not an object schema")
        if tool.output_schema is None:
            fail(f"{tool.name}: no outputSchema")
        plain = await call(session, tool.name, base_arguments(tool))
        if plain.is_error or plain.structured_content is None:
            fail(f"{tool.name}: refused its required arguments alone: {text_of(plain)}")
        checked += await every_enum_value_is_accepted(session, tool)
        await each_required_field_missing_is_named(session, tool)
    await long_and_secret_values_are_cut_and_redacted(session, vault)
    print(f"{how}: {len(tools)} tools, {checked} advertised enum values accepted")


async def main(binary, vault):
    server = StdioServerParameters(command=binary, args=["--no-dry-run", "--vault", vault, "mcp"])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            if init.protocol_version != "2025-11-25":
                fail(f"initialize negotiated {init.protocol_version}, not 2025-11-25")
            if init.server_info.name != "vault-audit":
                fail(f"serverInfo.name is {init.server_info.name}")
            await exercise(session, vault, "initialize 2025-11-25")
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            found = await session.discover()
            if "2025-11-25" not in found.supported_versions:
                fail(f"server/discover lists {found.supported_versions}")
            await exercise(session, vault, f"discover {session.protocol_version}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except AssertionError as e:
        sys.exit(f"MCP conformance: {e}")
    print("MCP conformance: ok")
