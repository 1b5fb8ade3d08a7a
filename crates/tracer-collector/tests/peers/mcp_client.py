"""Drives tracer-collector's /mcp endpoint with the official MCP Python SDK (`mcp` on PyPI).

Usage: mcp_client.py URL TRACE_A TRACE_B SERVICE [TOKEN]
Lists the tools, calls each one, and prints one JSON object per line:
{"tools": [names]} then {"tool": name, "isError": bool, "text": ..., "structured": ...}.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main() -> None:
    url, trace_a, trace_b, service = sys.argv[1:5]
    token = sys.argv[5] if len(sys.argv) > 5 else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            listed = await client.list_tools()
            print(json.dumps({"tools": sorted(t.name for t in listed.tools)}), flush=True)
            calls = [
                ("search_traces", {"service": service, "lookback_minutes": 10}),
                ("get_trace_summary", {"trace_id": trace_a}),
                ("get_red_metrics", {"service": service, "lookback_minutes": 10}),
                ("compare_traces", {"trace_id_a": trace_a, "trace_id_b": trace_b}),
                ("compare_windows", {"service": service, "window_minutes": 30}),
                ("get_trace_summary", {"trace_id": "not-hex"}),
            ]
            for name, args in calls:
                result = await client.call_tool(name, args)
                text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                print(
                    json.dumps(
                        {
                            "tool": name,
                            "isError": bool(result.is_error),
                            "text": text,
                            "structured": result.structured_content,
                        }
                    ),
                    flush=True,
                )


asyncio.run(main())
