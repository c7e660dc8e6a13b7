"""A corpus of realistic log lines, one for every format the parser knows, with the expected events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vectadb.logparse.parser import Delivery, LogParser, ParserOptions
from vectadb.logparse.redaction import Redactor, _Compiled
from vectadb.logparse.rules import RulesError, default_rules, load_rules, parse_rules
from vectadb.logparse.times import parse_log_time

CW_TS = 1767805260000  # 2026-01-07T17:01:00Z, when CloudWatch received the lines
RID = "8f5c1c7e-1b7c-4a4e-9d2a-123456789abc"
XRAY = "1-67891233-abcdef012345678912345678"

CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    # (name, message, expected fields: "type", "session", "agent", "ts", and "p.<property>")
    (
        "seed tool line",
        '[2026-01-07T17:00:00Z] Tool: web_search | Input: {"query": "weather SF"}',
        {
            "type": "tool_call",
            "ts": 1767805200000,
            "p.tool_name": "web_search",
            "p.tool_input": {"query": "weather SF"},
        },
    ),
    (
        "python lambda prefix",
        f"[WARNING]\t2026-01-07T17:00:00.250Z\t{RID}\tslow tool: web_search took 9.2s",
        {"type": "log", "session": RID, "ts": 1767805200250, "p.level": "WARNING", "p.request_id": RID},
    ),
    (
        "node lambda prefix",
        f"2026-01-07T17:00:00.500Z\t{RID}\tERROR\tunhandled rejection in planner",
        {"type": "error", "session": RID, "ts": 1767805200500, "p.level": "ERROR"},
    ),
    (
        "node invoke error",
        f'2026-01-07T17:00:00.600Z\t{RID}\tERROR\tInvoke Error {{"errorType":"TypeError","errorMessage":"x is undefined","stack":["TypeError: x","    at a (/var/task/index.js:3:9)"]}}',
        {
            "type": "agent_error",
            "p.exception_type": "TypeError",
            "p.error": "x is undefined",
            "p.level": "ERROR",
        },
    ),
    (
        "lambda report line",
        f"REPORT RequestId: {RID}\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\t"
        f"Max Memory Used: 70 MB\tInit Duration: 130.90 ms\t\nXRAY TraceId: {XRAY}\tSegmentId: 1a2b\tSampled: true",
        {
            "type": "lambda_report",
            "session": RID,
            "p.duration_ms": 102.25,
            "p.billed_duration_ms": 103,
            "p.memory_size_mb": 128,
            "p.max_memory_used_mb": 70,
            "p.init_duration_ms": 130.9,
            "p.xray_trace_id": XRAY,
        },
    ),
    (
        "lambda json log format",
        f'{{"timestamp":"2026-01-07T17:00:01.000Z","level":"INFO","message":"planning step 2","logger":"agent",'
        f'"requestId":"{RID}"}}',
        {
            "type": "log",
            "session": RID,
            "ts": 1767805201000,
            "p.message": "planning step 2",
            "p.level": "INFO",
        },
    ),
    (
        "lambda json platform.report",
        f'{{"time":"2026-01-07T17:00:02.000Z","type":"platform.report","record":{{"requestId":"{RID}",'
        f'"metrics":{{"durationMs":1234.5,"billedDurationMs":1235,"memorySizeMB":512,"maxMemoryUsedMB":180,'
        f'"initDurationMs":250.1}},"tracing":{{"type":"X-Amzn-Trace-Id","value":"Root={XRAY};Sampled=1"}},'
        f'"status":"success"}}}}',
        {
            "type": "lambda_report",
            "ts": 1767805202000,
            "p.duration_ms": 1234.5,
            "p.init_duration_ms": 250.1,
            "p.status": "success",
            "p.xray_trace_id": XRAY,
        },
    ),
    (
        "powertools logger with a dict message",
        '{"level":"INFO","location":"tools:58","message":{"tool":"crm_lookup","input":{"customer":"C-1"}},'
        '"timestamp":"2026-01-07 17:00:03,123+0000","service":"support","cold_start":false,'
        f'"function_request_id":"{RID}","xray_trace_id":"{XRAY}","conversation_id":"conv-1","agent":"support-bot"}}',
        {
            "type": "tool_call",
            "session": "conv-1",
            "agent": "support-bot",
            "ts": 1767805203123,
            "p.tool_name": "crm_lookup",
            "p.tool_input": {"customer": "C-1"},
            "p.service": "support",
            "absent": ["cold_start", "location", "tool", "input"],
        },
    ),
    (
        "explicit type is kept",
        '{"type": "guardrail_block", "message": "blocked a prompt injection", "sessionId": "s-9"}',
        {"type": "guardrail_block", "session": "s-9"},
    ),
    (
        "fluent bit kubernetes wrapper",
        '{"log":"{\\"level\\":\\"warning\\",\\"msg\\":\\"retrying tool\\",\\"thread_id\\":\\"t-5\\"}\\n",'
        '"stream":"stdout","time":"2026-01-07T17:00:04.000Z",'
        '"kubernetes":{"pod_name":"agent-1","namespace_name":"ai","container_name":"agent","labels":{"app":"a"}}}',
        {
            "type": "log",
            "session": "t-5",
            "ts": 1767805204000,
            "p.level": "WARNING",
            "p.message": "retrying tool",
            "p.kubernetes": {
                "pod_name": "agent-1",
                "namespace_name": "ai",
                "container_name": "agent",
                "labels": {"app": "a"},
            },
        },
    ),
    (
        "fluent bit wrapping a text line",
        '{"log":"2026-01-07T17:00:05Z ERROR payment tool failed\\n","stream":"stderr","kubernetes":{"pod_name":"p"}}',
        {"type": "error", "ts": 1767805205000, "p.level": "ERROR", "p.message": "payment tool failed"},
    ),
    (
        "otel genai execute_tool",
        '{"timeUnixNano": 1767805206000000000, "severityText": "INFO", "body": "tool run", "attributes": '
        '{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "calculator", "gen_ai.conversation.id": "c-7",'
        ' "gen_ai.agent.id": "math-1", "gen_ai.agent.name": "math"}}',
        {
            "type": "tool_call",
            "session": "c-7",
            "agent": "math-1",
            "ts": 1767805206000,
            "p.tool_name": "calculator",
        },
    ),
    (
        "otel genai chat with usage",
        '{"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 950, '
        '"gen_ai.usage.output_tokens": 120, "gen_ai.agent.name": "planner", "cost_usd": 0.0123}',
        {
            "type": "llm_call",
            "agent": "planner",
            "p.model": "gpt-4o",
            "p.input_tokens": 950,
            "p.output_tokens": 120,
            "p.cost_usd": 0.0123,
        },
    ),
    (
        "otel genai invoke_agent",
        '{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "router"}',
        {"type": "agent_start", "agent": "router"},
    ),
    (
        "otel generate_content and text_completion",
        '{"gen_ai.operation.name": "generate_content", "gen_ai.request.model": "gemini-1.5-pro"}',
        {"type": "llm_call", "p.model": "gemini-1.5-pro"},
    ),
    (
        "langchain invoking with a python dict",
        "\x1b[32;1m\x1b[1;3m\nInvoking: `get_weather` with `{'city': 'San Francisco', 'units': 'metric'}`\n\n\n\x1b[0m",
        {
            "type": "tool_call",
            "p.tool_name": "get_weather",
            "p.tool_input": {"city": "San Francisco", "units": "metric"},
        },
    ),
    (
        "langchain react action block",
        "Thought: I should look this up\nAction: wikipedia\nAction Input: Alan Turing",
        {"type": "tool_call", "p.tool_name": "wikipedia", "p.tool_input": "Alan Turing"},
    ),
    ("langchain action alone", "Action: calculator", {"type": "tool_call", "p.tool_name": "calculator"}),
    ("langchain action input alone", "Action Input: 2 + 2", {"type": "tool_call", "p.tool_input": "2 + 2"}),
    ("langchain observation", "Observation: 4", {"type": "tool_result", "p.output": 4}),
    (
        "langchain final answer",
        "Thought: I now know the final answer\nFinal Answer: The answer is 4.",
        {"type": "agent_end", "p.output": "The answer is 4."},
    ),
    (
        "langchain entering chain",
        "\x1b[1m> Entering new AgentExecutor chain...\x1b[0m",
        {"type": "agent_start", "p.chain": "AgentExecutor"},
    ),
    ("langchain finished chain", "\x1b[1m> Finished chain.\x1b[0m", {"type": "agent_end"}),
    (
        "langchain tool start (console tracer)",
        '[tool/start] [chain:AgentExecutor > tool:tavily_search] Entering Tool run with input:\n"weather in SF"',
        {"type": "tool_call", "p.tool_name": "tavily_search", "p.tool_input": "weather in SF"},
    ),
    (
        "langchain tool end (console tracer)",
        '[tool/end] [chain:AgentExecutor > tool:tavily_search] [1.52s] Exiting Tool run with output:\n"14C"',
        {"type": "tool_result", "p.tool_name": "tavily_search", "p.duration": "1.52s"},
    ),
    (
        "langchain llm start (console tracer)",
        '[llm/start] [chain:AgentExecutor > llm:ChatOpenAI] Entering LLM run with input:\n{"prompts": ["Human: hi"]}',
        {"type": "llm_call", "p.llm": "ChatOpenAI"},
    ),
    (
        "langchain llm end (console tracer)",
        "[llm/end] [chain:AgentExecutor > llm:ChatOpenAI] [2.31s] Exiting LLM run with output:\n{}",
        {"type": "llm_call", "p.llm": "ChatOpenAI", "p.duration": "2.31s"},
    ),
    (
        "openai sdk http line",
        'HTTP Request: POST https://api.openai.com/v1/chat/completions "HTTP/1.1 200 OK"',
        {"type": "llm_call", "p.provider": "openai", "p.status_code": 200},
    ),
    (
        "anthropic sdk http line",
        'HTTP Request: POST https://api.anthropic.com/v1/messages "HTTP/1.1 529 Overloaded"',
        {"type": "llm_call", "p.provider": "anthropic", "p.status_code": 529},
    ),
    (
        "llm usage line",
        "llm call model=gpt-4o-mini prompt_tokens=120 completion_tokens=30 cost=$0.0004",
        {
            "type": "llm_call",
            "p.model": "gpt-4o-mini",
            "p.input_tokens": 120,
            "p.output_tokens": 30,
            "p.cost": 0.0004,
        },
    ),
    (
        "python traceback (logging.exception)",
        'tool failed\nTraceback (most recent call last):\n  File "/var/task/tools.py", line 12, in run\n'
        "    return client.get(url)\nrequests.exceptions.ConnectTimeout: timed out after 10s",
        {
            "type": "error",
            "p.exception_type": "requests.exceptions.ConnectTimeout",
            "p.error": "timed out after 10s",
        },
    ),
    (
        "lambda uncaught python exception",
        f"[ERROR]\t2026-01-07T17:00:09.000Z\t{RID}\tKeyError: 'customer_id'\nTraceback (most recent call last):\n"
        '  File "/var/task/app.py", line 5, in handler\n    x = event["customer_id"]',
        {"type": "error", "p.exception_type": "KeyError", "p.error": "'customer_id'", "p.level": "ERROR"},
    ),
    (
        "lambda json uncaught exception",
        '{"timestamp":"2026-01-07T17:00:10Z","level":"ERROR","errorType":"ValueError","errorMessage":"bad input",'
        '"stackTrace":["  File \\"/var/task/app.py\\", line 3"],"requestType":"invoke"}',
        # The runtime's report of an uncaught exception: the invocation failed.
        {"type": "agent_error", "p.exception_type": "ValueError", "p.error": "bad input"},
    ),
    # Framework profiles: lines as the real libraries printed them (tests/fixtures/agent_logs).
    (
        "smolagents tool panel",
        "│ Calling tool: 'get_weather' with arguments: {'city': 'Paris'}                │",
        {"type": "tool_call", "p.tool_name": "get_weather", "p.tool_input": {"city": "Paris"}},
    ),
    (
        "llama_index printed ToolCall event",
        "tool_name='get_weather' tool_kwargs={'city': 'Paris'} tool_id='call_392d6ff9dac4'",
        {"type": "tool_call", "p.tool_name": "get_weather", "p.tool_input": {"city": "Paris"}},
    ),
    (
        "llama_index failed tool result",
        "tool_name='lookup_order' tool_kwargs={'order_id': 'A-17'} tool_id='call_b15ed711a439' "
        "tool_output=ToolOutput(blocks=[TextBlock(block_type='text', text=\"'order A-17 not found'\")], "
        "tool_name='lookup_order', raw_input={'order_id': 'A-17'}, raw_output=\"'order A-17 not found'\", "
        "is_error=True) return_direct=False",
        {"type": "error", "p.tool_name": "lookup_order"},
    ),
    (
        "strands tool_use debug line",
        f"[DEBUG]\t2026-11-30T10:15:13.937Z\t{RID}\ttool_use=<{{'toolUseId': 'call_de693072b941', "
        "'name': 'get_weather', 'input': {'city': 'Paris'}}> | streaming",
        {
            "type": "tool_call",
            "session": RID,
            "p.tool_name": "get_weather",
            "p.tool_input": {"city": "Paris"},
        },
    ),
    (
        "autogen console FunctionCall",
        "[FunctionCall(id='call_da10e8d424d0', arguments='{\"city\": \"Paris\"}', name='get_weather')]",
        {"type": "tool_call", "p.tool_name": "get_weather", "p.tool_input": {"city": "Paris"}},
    ),
    (
        "autogen ToolCall record",
        f'[INFO]\t2026-11-30T10:16:17.669Z\t{RID}\t{{"type": "ToolCall", "tool_name": "get_weather", '
        '"arguments": {"city": "Paris"}, "result": "Sunny, 21 C in Paris", "agent_id": null}',
        {
            "type": "tool_call",
            "p.tool_name": "get_weather",
            "p.tool_input": {"city": "Paris"},
            "p.original_type": "ToolCall",
        },
    ),
    (
        "openai agents sdk invoking tool",
        f"[DEBUG]\t2026-11-30T10:16:04.692Z\t{RID}\tInvoking tool get_weather",
        {"type": "tool_call", "p.tool_name": "get_weather", "session": RID},
    ),
    (
        "openai agents sdk tool failed",
        "Tool lookup_order failed",
        {"type": "error", "p.tool_name": "lookup_order"},
    ),
    (
        "pydantic-ai through logfire, with its attributes assembled",
        "10:17:00.810   running tool: get_weather\n"
        "             │ gen_ai.tool.call.arguments={\n"
        "             │                                'city': 'Paris',\n"
        "             │                            }\n"
        "             │ gen_ai.tool.call.result=None",
        {"type": "tool_call", "p.tool_name": "get_weather", "p.tool_input": {"city": "Paris"}},
    ),
    (
        "crewai tool panel, assembled",
        "╭─────────────────────── 🔧 Tool Execution Started (#1) ───────────────────────╮\n"
        "│                                                                              │\n"
        "│  Tool: get_weather                                                           │\n"
        "│  Args: {'city': 'Paris'}                                                     │\n"
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        {"type": "tool_call", "p.tool_name": "get_weather", "p.tool_input": {"city": "Paris"}},
    ),
    (
        "crewai tool error panel, assembled",
        "╭───────────────────────────── 🔧 Tool Error (#1) ─────────────────────────────╮\n"
        "│                                                                              │\n"
        "│  Tool Failed                                                                 │\n"
        "│  Tool: lookup_order                                                          │\n"
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        {"type": "error", "p.tool_name": "lookup_order"},
    ),
    (
        "smolagents tool error",
        "Error executing tool 'lookup_order' with arguments {'order_id': 'A-17'}: ",
        {"type": "error", "p.tool_name": "lookup_order", "p.tool_input": {"order_id": "A-17"}},
    ),
    (
        "crewai openai usage",
        f"[INFO]\t2026-11-30T10:16:57.523Z\t{RID}\tOpenAI API usage: {{'prompt_tokens': 179, "
        "'completion_tokens': 7, 'total_tokens': 186}",
        {"type": "llm_call", "p.input_tokens": 179, "p.output_tokens": 7, "p.total_tokens": 186},
    ),
    (
        "httpx line to an openai-compatible endpoint",
        f'[INFO]\t2026-11-30T10:16:57.458Z\t{RID}\tHTTP Request: POST http://127.0.0.1:33753/v1/chat/completions "HTTP/1.1 200 OK"',
        {"type": "llm_call", "p.status_code": 200, "session": RID},
    ),
    (
        "powertools llm call record",
        '{"level":"INFO","location":"agent:66","message":"llm call","timestamp":"2026-11-30 10:11:49,241+0000",'
        '"service":"support-agent","step":0,"model":"gpt-4o-mini","prompt_tokens":15,"completion_tokens":31}',
        {"type": "llm_call", "p.model": "gpt-4o-mini", "p.input_tokens": 15, "p.output_tokens": 31},
    ),
    (
        "powertools logger.exception with a tool name is an error",
        '{"level":"ERROR","location":"agent:86","message":"tool failed","timestamp":"2026-11-30 10:11:49,765+0000",'
        '"service":"support-agent","tool_name":"lookup_order","exception":"Traceback (most recent call last):\\n'
        '  File \\"/var/task/agent.py\\", line 84, in agent\\nKeyError: \'order A-17 not found\'",'
        '"exception_name":"KeyError"}',
        {"type": "error", "p.tool_name": "lookup_order"},
    ),
    (
        "langgraph model node update",
        "\x1b[1m[updates]\x1b[0m {'agent': {'messages': [AIMessage(content='', additional_kwargs={'refusal': None}, "
        "response_metadata={'token_usage': {'completion_tokens': 61, 'prompt_tokens': 15, 'total_tokens': 76, "
        "'completion_tokens_details': None, 'prompt_tokens_details': None}, 'model_provider': 'openai', "
        "'model_name': 'gpt-4o-mini', 'system_fingerprint': 'fp_fake', 'id': 'chatcmpl-65e34dd289c94777', "
        "'finish_reason': 'tool_calls', 'logprobs': None}, id='lc_run--01a22bf4-8f56-7049-9699-2157d5a289be-0', "
        "tool_calls=[{'name': 'get_weather', 'args': {'city': 'Paris'}, 'id': 'call_3580bf76713a', 'type': 'tool_call'}])]}}",
        {
            "type": "llm_call",
            "p.model": "gpt-4o-mini",
            "p.input_tokens": 15,
            "p.output_tokens": 61,
            "p.total_tokens": 76,
        },
    ),
    (
        "langgraph tool node update",
        "\x1b[1m[updates]\x1b[0m {'tools': {'messages': [ToolMessage(content='Sunny, 21 C in Paris', "
        "name='get_weather', tool_call_id='call_3580bf76713a')]}}",
        {"type": "tool_result", "p.tool_name": "get_weather"},
    ),
    (
        "langchain debug: the outermost chain starts a run",
        "\x1b[32;1m\x1b[1;3m[chain/start]\x1b[0m \x1b[1m[chain:LangGraph] Entering Chain run with input:\n"
        '\x1b[0m{\n  "messages": [\n    {\n      "role": "user",\n      "content": "Weather in Paris?"\n    }\n  ]\n}',
        {"type": "agent_start", "p.chain": "LangGraph"},
    ),
    (
        "langchain debug: an inner chain is not a run",
        "\x1b[32;1m\x1b[1;3m[chain/start]\x1b[0m \x1b[1m[chain:LangGraph > chain:model] Entering Chain run with input:",
        {"type": "log"},
    ),
    (
        "langchain debug: the outermost chain ends the run",
        "\x1b[36;1m\x1b[1;3m[chain/end]\x1b[0m \x1b[1m[chain:LangGraph] [69ms] Exiting Chain run with output:",
        {"type": "agent_end", "p.chain": "LangGraph"},
    ),
    (
        "langchain debug: the outermost chain failed",
        "\x1b[31;1m\x1b[1;3m[chain/error]\x1b[0m \x1b[1m[chain:LangGraph] [31ms] Chain run errored with error:\n"
        "\x1b[0m\"KeyError('order A-17 not found')\"",
        {"type": "agent_error", "p.chain": "LangGraph"},
    ),
    (
        "smolagents new run panel",
        "╭────────────────────────────────── New run ───────────────────────────────────╮\n"
        "│                                                                              │\n"
        "│ What is the weather in Paris?                                                │\n"
        "╰─ OpenAIServerModel - gpt-4o-mini ────────────────────────────────────────────╯",
        {"type": "agent_start", "p.model": "gpt-4o-mini", "p.model_class": "OpenAIServerModel"},
    ),
    (
        "smolagents final answer",
        "Final answer: It is sunny and 21 C in Paris.",
        {"type": "agent_end", "p.output": "It is sunny and 21 C in Paris."},
    ),
    (
        "crewai crew started",
        "╭───────────────────────── 🚀 Crew Execution Started ──────────────────────────╮\n"
        "│  Crew Execution Started                                                      │\n"
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        {"type": "agent_start"},
    ),
    (
        "crewai crew completed",
        "╭────────────────────────────── Crew Completion ───────────────────────────────╮\n"
        "│  Crew Execution Completed                                                    │\n"
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        {"type": "agent_end"},
    ),
    (
        "crewai crew failed",
        "╭──────────────────────────────── Crew Failure ────────────────────────────────╮\n"
        "│  Crew Execution Failed                                                       │\n"
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        {"type": "agent_error"},
    ),
    (
        "autogen console: a failed tool result",
        "[FunctionExecutionResult(content=\"'order A-17 not found'\", name='lookup_order', "
        "call_id='call_3c6ab3d6e409', is_error=True)]",
        {"type": "tool_result", "p.tool_name": "lookup_order", "p.level": "ERROR"},
    ),
    (
        "basicConfig format names its logger",
        'INFO:httpx2:HTTP Request: POST http://127.0.0.1:33991/v1/chat/completions "HTTP/1.1 200 OK"',
        {"type": "llm_call", "p.level": "INFO", "p.status_code": 200},
    ),
    (
        "openai agents sdk: a run sets its trace",
        "DEBUG:openai.agents:Setting current trace",
        {"type": "agent_start", "p.level": "DEBUG"},
    ),
    (
        "openai agents sdk: a run resets its trace",
        "Resetting current trace",
        {"type": "agent_end"},
    ),
    (
        "openai agents sdk: a run's trace, tracing off",
        "DEBUG:openai.agents:Tracing is disabled. Not creating trace",
        {"type": "agent_start", "p.rule": "openai_agents_run_start"},
    ),
    (
        "autogen console: the user's task opens a run",
        "---------- TextMessage (user) ----------",
        {"type": "agent_start", "p.rule": "autogen_task"},
    ),
    (
        "strands: the agent's model is set up",
        "DEBUG:strands.models.openai:config=<{'model_id': 'gpt-4o-mini'}> | initializing",
        {"type": "agent_start", "p.model": "gpt-4o-mini", "p.level": "DEBUG"},
    ),
    (
        "pydantic-ai through logfire: the run's span",
        "10:17:00.674 agent run",
        {"type": "agent_start", "p.rule": "logfire_agent_run"},
    ),
    (
        "langgraph values: the first state holds only the user's message",
        "\x1b[1m[values]\x1b[0m {'messages': [HumanMessage(content='Weather in Paris and in Rome?', "
        "additional_kwargs={}, response_metadata={}, id='193ce000-9cc7-4660-8b1a-0d8a4bd6a4c1')]}",
        {"type": "agent_start", "p.rule": "langgraph_run_start"},
    ),
    (
        "langgraph values: a later state is not a start",
        "[values] {'messages': [HumanMessage(content='Weather?', additional_kwargs={}, response_metadata={}, "
        "id='1'), AIMessage(content='Sunny.', additional_kwargs={}, response_metadata={}, id='2')]}",
        {"type": "log"},
    ),
    (
        "a hand-written loop: agent started (Powertools Logger)",
        '{"level":"INFO","location":"agent:62","message":"agent started","timestamp":"2026-11-30 10:12:28,566+0000",'
        '"service":"support-agent","question":"What is the weather in Paris?","model":"gpt-4o-mini"}',
        {"type": "agent_start", "p.rule": "run_started", "p.model": "gpt-4o-mini"},
    ),
    (
        "a hand-written loop: agent finished",
        '{"level":"INFO","message":"agent finished","service":"support-agent","answer":"It is sunny."}',
        {"type": "agent_end", "p.rule": "run_finished"},
    ),
    (
        "a hand-written loop: run failed",
        "ERROR:agent:run failed: the model timed out",
        {"type": "agent_error", "p.rule": "run_failed", "p.level": "ERROR"},
    ),
    (
        "prose that begins like a marker is not one",
        "Agents started by the scheduler today: 4",
        {"type": "log"},
    ),
    (
        "an OpenAI stream's last chunk printed as a dict (LlamaIndex AgentStream)",
        "delta='' response='' current_agent_name='support_agent' tool_calls=[ToolSelection(tool_id='call_392d6ff9dac4', "
        "tool_name='get_weather', tool_kwargs={'city': 'Paris'})] raw={'id': 'chatcmpl-a9b88674009c486a', 'choices': [], "
        "'created': 1796033860, 'model': 'gpt-4o-mini', 'object': 'chat.completion.chunk', 'moderation': None, "
        "'service_tier': None, 'system_fingerprint': None, 'usage': {'completion_tokens': 31, 'prompt_tokens': 40, "
        "'total_tokens': 71, 'completion_tokens_details': None, 'prompt_tokens_details': None}} thinking_delta=None",
        {
            "type": "llm_call",
            "p.model": "gpt-4o-mini",
            "p.input_tokens": 40,
            "p.output_tokens": 31,
            "p.total_tokens": 71,
        },
    ),
    (
        "crewai's token estimate names the call's model",
        "[WARNING]\t2026-11-30T10:16:57.078Z\tb4b10ac2-ee92-55c0-9fba-54d37488e04e\tUsing an approximate input token "
        "count for model 'gpt-4o-mini': assuming one token per four characters because a native token count is unavailable.",
        {"type": "log", "p.model": "gpt-4o-mini", "p.level": "WARNING"},
    ),
    (
        "pydantic-ai through logfire: the call's span names its model",
        "10:17:00.676   chat gpt-4o-mini",
        {"type": "log", "p.model": "gpt-4o-mini", "p.rule": "logfire_chat_span"},
    ),
    (
        "strands: the formatted request names its model",
        "DEBUG:strands.models.openai:formatted request=<{'messages': [{'role': 'system', 'content': 'You are a support "
        "agent. Use the tools to answer.'}, {'role': 'user', 'content': [{'text': 'What is the weather in Paris?', "
        "'type': 'text'}]}], 'model': 'gpt-4o-mini', 'stream': True, 'tools': []}>",
        {"type": "log", "p.model": "gpt-4o-mini", "p.level": "DEBUG"},
    ),
    (
        "a JSON record after a logging prefix (autogen's event logger under basicConfig)",
        'INFO:autogen_core.events:{"type": "LLMCall", "messages": [], "response": {"model": "gpt-4o-mini-2024-07-18"}, '
        '"prompt_tokens": 80, "completion_tokens": 31, "agent_id": null}',
        {
            "type": "llm_call",
            "p.model": "gpt-4o-mini-2024-07-18",
            "p.input_tokens": 80,
            "p.output_tokens": 31,
            "p.level": "INFO",
            "p.original_type": "LLMCall",
        },
    ),
    (
        "langchain 1.x debug: the tools node starts with the calls it runs",
        '[chain/start] [chain:LangGraph > chain:tools] Entering Chain run with input:\n{\n  "input": [\n    {\n'
        '      "name": "get_weather",\n      "args": {"city": "Paris"},\n      "id": "call_1",\n'
        '      "type": "tool_call"\n    }\n  ]\n}',
        {"type": "log", "p.rule": "langchain_tools_node_start"},
    ),
    (
        "crewai: an agent of the crew starts (nested in the crew's run)",
        "╭────────────────────────────── 🤖 Agent Started ──────────────────────────────╮\n"
        "│                                                                              │\n"
        "│  Agent: Support agent                                                        │\n"
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        {"type": "agent_start", "p.rule": "crewai_agent_started"},
    ),
    (
        "smolagents: a step's summary with the run's token totals so far",
        "[Step 2: Duration 0.05 seconds| Input tokens: 2,028 | Output tokens: 69]",
        {"type": "log", "p.step": 2, "p.run_input_tokens": 2028, "p.run_output_tokens": 69},
    ),
    (
        "llama_index workflow start",
        "INFO:workflows.verbose:[tick] add: AgentWorkflowStartEvent(user_msg='What is the weather in Paris?', "
        "chat_history=None, memory=None, max_iterations=None)",
        {"type": "agent_start"},
    ),
    (
        "llama_index workflow result",
        "INFO:workflows.verbose:[result] StopEvent(result=AgentOutput(response=ChatMessage(role=<MessageRole.ASSISTANT: "
        "'assistant'>, additional_kwargs={}, blocks=[TextBlock(block_type='text', text='It is sunny and 21 C in Paris.')])))",
        {"type": "agent_end"},
    ),
    (
        "fallback keeps the message",
        "user clicked the thumbs-up button",
        {"type": "log", "ts": CW_TS, "p.message": "user clicked the thumbs-up button"},
    ),
    (
        "a line time far in the future falls back to CloudWatch's",
        "2027-06-01T00:00:00Z INFO clock skew on this host",
        {"type": "log", "ts": CW_TS, "p.line_timestamp_ms": 1811808000000},
    ),
    (
        "secrets are redacted everywhere",
        '{"message": "calling api with key sk-ant-abcdefghijklmnopqrstuvwxyz123", "password": "hunter2",'
        ' "user": "ana@example.com", "session_id": "s-1"}',
        {
            "p.message": "calling api with key [REDACTED:api_key]",
            "p.password": "[REDACTED:secret]",
            "p.user": "[REDACTED:email]",
        },
    ),
]


def _delivery() -> Delivery:
    return Delivery("/aws/lambda/agent", "2026/01/07/[$LATEST]abc", "123456789012")


def _check(event: dict[str, Any], expected: dict[str, Any]) -> None:
    aliases = {"type": "event_type", "session": "session_id", "agent": "agent_id", "ts": "timestamp"}
    for key, value in expected.items():
        if key == "absent":
            for name in value:
                assert name not in event["properties"], name
        elif key.startswith("p."):
            assert event["properties"].get(key[2:]) == value, (key, event["properties"])
        else:
            assert event.get(aliases[key]) == value, (key, event)


@pytest.mark.parametrize(("name", "message", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(name: str, message: str, expected: dict[str, Any]) -> None:
    parser = LogParser(default_rules())
    event = parser.parse_line(_delivery(), "37914201234567890", CW_TS, message)
    assert event is not None
    _check(event, expected)
    assert event["source"] == {
        "system": "cloudwatch",
        "log_group": "/aws/lambda/agent",
        "log_stream": "2026/01/07/[$LATEST]abc",
        "log_id": "37914201234567890",
        "owner": "123456789012",
    }


def test_every_default_rule_is_exercised_by_the_corpus() -> None:
    parser = LogParser(default_rules())
    used = set()
    for _, message, _ in CORPUS:
        event = parser.parse_line(_delivery(), "1", CW_TS, message)
        if event and "rule" in event["properties"]:
            used.add(event["properties"]["rule"])
    assert used == set(default_rules().names)


def test_lambda_session_follows_the_stream() -> None:
    """print() lines carry no request id: they belong to the request the stream is running."""
    parser = LogParser(default_rules())
    delivery = _delivery()
    lines = [
        ("1", f"START RequestId: {RID} Version: $LATEST"),
        ("2", "print from the handler"),
        ("3", f'{{"message": "picked a session", "session_id": "chat-77", "requestId": "{RID}"}}'),
        ("4", "another print"),
        ("5", f"END RequestId: {RID}"),
        ("6", f"REPORT RequestId: {RID}\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB"),
        ("7", "START RequestId: 22222222-3333-4444-5555-666666666666 Version: $LATEST"),
        ("8", "print in the next request"),
    ]
    events, stats = parser.parse_delivery(delivery, [(i, CW_TS, m) for i, m in lines])
    assert [e.get("session_id") for e in events] == [
        RID,
        "chat-77",
        "chat-77",
        "chat-77",
        "22222222-3333-4444-5555-666666666666",
    ]
    assert (stats.lines, stats.dropped, stats.events) == (8, 3, 5)


def test_xray_then_nothing() -> None:
    parser = LogParser(default_rules())
    delivery = Delivery("/ecs/agent", "ecs/agent/abc")
    event = parser.parse_line(delivery, "1", CW_TS, f'{{"message": "hi", "xray_trace_id": "{XRAY}"}}')
    assert event is not None and event["session_id"] == XRAY
    bare = parser.parse_line(Delivery("/ecs/agent", "s"), "2", CW_TS, "no context at all")
    assert bare is not None and "session_id" not in bare


def test_the_log_stream_as_session_is_an_option() -> None:
    parser = LogParser(default_rules(), ParserOptions(session_from_log_stream=True))
    event = parser.parse_line(Delivery("/ecs/agent", "ecs/agent/task-1"), "1", CW_TS, "hello")
    assert event is not None and event["session_id"] == "ecs/agent/task-1"


def test_start_and_end_can_be_kept() -> None:
    parser = LogParser(default_rules(), ParserOptions(drop_start_end=False))
    events, stats = parser.parse_delivery(
        _delivery(),
        [("1", CW_TS, f"START RequestId: {RID} Version: 1"), ("2", CW_TS, f"END RequestId: {RID}")],
    )
    assert [e["event_type"] for e in events] == ["log", "log"]
    assert stats.dropped == 0


def test_include_and_exclude_with_exclude_winning() -> None:
    rules = load_rules("rules: []\ninclude: ['agent']\nexclude: ['healthcheck']\n", "test.yaml")
    parser = LogParser(rules)
    lines = [("1", CW_TS, "agent step"), ("2", CW_TS, "agent healthcheck ok"), ("3", CW_TS, "other")]
    events, stats = parser.parse_delivery(_delivery(), lines)
    assert [e["properties"]["message"] for e in events] == ["agent step"]
    assert stats.filtered == 2


def test_custom_rules_come_first_and_redact_more() -> None:
    text = """
rules:
  - name: refund
    contains: refund
    pattern: 'refund of (?P<amount>[\\d.]+) for order (?P<order>\\d+)'
    event_type: tool_call
    properties: {order: order_id}
redact:
  - name: customer_number
    pattern: 'CUST-\\d{6}'
"""
    parser = LogParser(load_rules(text, "custom.yaml"))
    event = parser.parse_line(_delivery(), "1", CW_TS, "refund of 12.50 for order 991 (CUST-123456)")
    padded = parser.parse_line(_delivery(), "3", CW_TS, "refund of 1 for order 0042")
    assert padded is not None and padded["properties"]["order_id"] == "0042"  # not a number: keep the zeros
    assert event is not None
    assert (event["event_type"], event["properties"]["amount"], event["properties"]["order_id"]) == (
        "tool_call",
        12.5,
        991,
    )
    assert "[REDACTED:customer_number]" in event["properties"]["message"]
    fallback = parser.parse_line(_delivery(), "2", CW_TS, "Observation: still uses the shipped rules")
    assert fallback is not None and fallback["event_type"] == "tool_result"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules:\n  - name: broken\n    pattern: '(unclosed'\n    event_type: x\n",
            "rule 'broken' (#1): the pattern",
        ),
        (
            "rules:\n  - name: ok\n    pattern: 'a'\n    event_type: x\n  - name: no_type\n    pattern: 'b'\n",
            "rule 'no_type' (#2): event_type",
        ),
        (
            "rules:\n  - name: bad\n    pattern: '(?P<a>x)'\n    event_type: x\n    properties: {b: c}\n",
            "rule 'bad' (#1): properties map groups",
        ),
        (
            "rules:\n  - name: f\n    pattern: 'x'\n    event_type: x\n    flags: [verbose]\n",
            "rule 'f' (#1): flags",
        ),
        (
            "rules:\n  - name: d\n    pattern: 'x'\n    event_type: x\n  - name: d\n    pattern: 'y'\n    event_type: y\n",
            "repeated: ['d']",
        ),
        ("rules: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("include: ['(']\n", "include pattern"),
    ],
)
def test_a_bad_rules_file_names_the_bad_rule(text: str, message: str) -> None:
    with pytest.raises(RulesError) as exc:
        parse_rules(text, "rules.yaml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("rules.yaml")


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("2026-01-07T17:00:00Z", 1767805200000),
        ("2026-01-07T17:00:00.123456Z", 1767805200123),
        ("2026-11-30T10:12:28.566987756Z", 1796033548566),  # cut to its millisecond, as CloudWatch does
        ("2026-01-07T17:00:00.9999Z", 1767805200999),
        ("2026-01-07 17:00:00,123+0000", 1767805200123),
        ("2026-01-07T19:00:00+02:00", 1767805200000),
        ("2026-01-07T17:00:00", 1767805200000),
        (1767805200, 1767805200000),
        (1767805200123, 1767805200123),
        (1767805200123456, 1767805200123),
        (1767805200123456789, 1767805200123),
        ("1767805200123", 1767805200123),
        ("yesterday", None),
        (True, None),
        (None, None),
        ("2026-02-30T00:00:00Z", None),
    ],
)
def test_log_times(value: object, ms: int | None) -> None:
    assert parse_log_time(value) == ms


def test_log_times_read_in_c_equal_the_pattern_reading() -> None:
    """The fast path (datetime.fromisoformat) gives, for every shape it reads, what the pattern's
    own arithmetic gives: same zone handling, fractions cut (not rounded) to the millisecond."""
    from vectadb.logparse.times import _ISO, _from_groups

    shapes = [
        f"2026-{month:02d}-07{sep}17:04:0{second}{fraction}{zone}"
        for month in (1, 7, 12)
        for sep in ("T", " ")
        for second in (0, 9)
        for fraction in ("", ".1", ",12", ".123", ",1234", ".999999", ".9999999", ".123456789")
        for zone in ("", "Z", "z", "+00:00", "+0000", "-0530", "+05:30", " Z", " +0100")
    ]
    read = 0
    for text in shapes:
        match = _ISO.match(text)
        assert match is not None, text
        assert parse_log_time(text) == _from_groups(match), text
        read += 1
    assert read == len(shapes) == 864


def test_redaction_patterns() -> None:
    redactor = Redactor()
    cases = {
        "mail bob.smith+test@example.co.uk now": "mail [REDACTED:email] now",
        "AKIAIOSFODNN7EXAMPLE": "[REDACTED:aws_access_key]",
        "Authorization: Bearer eyJ0eXAiOiJKV1QiLCJh": "Authorization: Bearer [REDACTED:bearer_token]",
        "token=ghp_abcdefghijklmnopqrstuvwxyz0123456789": "token=[REDACTED:api_key]",
        "OPENAI_API_KEY=sk-proj-0123456789abcdefghijklmn": "OPENAI_API_KEY=[REDACTED:api_key]",
        '"api_key": "abcd1234efgh"': '"api_key": "[REDACTED:secret]"',
        "password: correct-horse": "password: [REDACTED:secret]",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "aws_secret_access_key=[REDACTED:aws_secret_key]",
        "the key to success is practice": "the key to success is practice",
    }
    for raw, redacted in cases.items():
        assert redactor.text(raw) == redacted, raw
    structured = redactor.text(
        '{"headers": {"Authorization": "Basic dXNlcjpwYXNz"}, "list": ["a@b.io"], "token": 12345}'
    )
    assert structured == (
        '{"headers": {"Authorization": "[REDACTED:secret]"}, "list": ["[REDACTED:email]"], "token": [REDACTED:secret]}'
    )
    assert redactor.text("max_tokens: 256, input_tokens=12") == "max_tokens: 256, input_tokens=12"


def test_trigger_words_and_gates_change_only_the_speed_of_redaction() -> None:
    """Every builtin rule run on every line (no trigger words, no gates) redacts exactly what the
    gated redactor does, over every line that the real agent libraries printed and secrets of
    every kind written in several cases and separators."""
    import dataclasses
    import json
    from pathlib import Path

    from vectadb.logparse.redaction import BUILTIN_RULES

    ungated = Redactor()
    ungated._rules = [_Compiled(dataclasses.replace(rule, triggers=(), gate=None)) for rule in BUILTIN_RULES]
    ungated._words_lower = ungated._words_as_is = ()
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "agent_logs"
    lines = [
        record["text"]
        for capture in sorted(fixtures.glob("*/capture.json"))
        for record in json.loads(capture.read_text())["records"]
    ]
    for key in ("API_KEY", "x-api-key", "Refresh_Token", "client-secret", "PASSWD", "Private_Key"):
        for separator in ("=", ": ", '": "', "'='"):
            lines.append(f"calling with {key}{separator}s3cr3t-value-42 and prompt_tokens=12")
    assert len(lines) > 5000
    gated = Redactor()
    for line in lines:
        assert gated.text(line) == ungated.text(line), line
    assert gated.count == ungated.count > 0


def test_a_langchain_debug_block_gives_the_model_and_its_usage() -> None:
    """LangChain's [llm/end] block, as LangChain 1.x really printed it (one stdout line per line,
    put back together): the LLM call carries the model and the tokens from inside the block."""
    import json
    from pathlib import Path

    from vectadb.logparse.parser import Delivery

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "agent_logs" / "langchain" / "capture.json"
    capture = json.loads(fixture.read_text())
    run = capture["runs"][0]
    answered = [call for call in run["llm_calls"] if call["status"] == 200]
    stdout = [
        r for r in capture["records"] if r["channel"] == "stdout" and r["request_id"] == run["request_id"]
    ]
    lines = [(str(i), 1796033700000 + i, r["text"] + "\n") for i, r in enumerate(stdout)]
    events, _ = LogParser(default_rules()).parse_delivery(Delivery("g", "s"), lines)
    ends = [e for e in events if e["properties"].get("rule") == "langchain_llm_end"]
    assert len(ends) == len(answered)
    for event, call in zip(ends, answered, strict=True):
        assert event["event_type"] == "llm_call"
        assert event["properties"]["model"] == call["model"]
        assert (event["properties"]["input_tokens"], event["properties"]["output_tokens"]) == (
            call["input_tokens"],
            call["output_tokens"],
        )
        assert len(event["properties"]["log_ids"]) > 10  # the block's lines, put back together


def test_opentelemetry_console_spans_become_a_tree_of_events() -> None:
    """ConsoleSpanExporter output as a real run printed it into a container's log (each line its
    own Fluent Bit record): one event per span, identified by its span, caused by its parent span,
    grouped by its trace; the agent span ends the run, failed when its status is ERROR."""
    import json
    from pathlib import Path

    from vectadb.logparse.parser import Delivery

    root = Path(__file__).resolve().parents[1] / "fixtures" / "agent_logs" / "otel_genai"
    capture = json.loads((root / "capture.json").read_text())
    events = []
    parser = LogParser(default_rules())
    for payload in json.loads((root / "deliveries" / "k8s.json").read_text()):
        lines = [(e["id"], e["timestamp"], e["message"]) for e in payload["logEvents"]]
        events += parser.parse_delivery(Delivery(payload["logGroup"], payload["logStream"]), lines)[0]
    spans = {e["event_id"]: e for e in events if e.get("event_id", "").startswith("otel:")}
    agents = [e for e in spans.values() if e["properties"].get("gen_ai.operation.name") == "invoke_agent"]
    assert [e["event_type"] for e in agents] == [
        "agent_error" if run["status"] == "failed" else "agent_end" for run in capture["runs"]
    ]
    tools = [e for e in spans.values() if e["event_type"] == "tool_call"]
    assert sorted(t["properties"]["tool_name"] for t in tools) == sorted(
        call["name"] for run in capture["runs"] for call in run["tool_calls"]
    )
    for span in spans.values():
        assert span["properties"]["duration_ms"] >= 0
        assert span["session_id"] == "otel-" + span["properties"]["otel_trace_id"]
        if span not in agents:
            assert span["parent_event_id"] in spans  # the parent span is in the capture too
    failed_tools = [t for t in tools if t["properties"].get("level") == "ERROR"]
    assert [t["properties"]["tool_name"] for t in failed_tools] == [
        call["name"] for run in capture["runs"] for call in run["tool_calls"] if call["error"]
    ]


def test_outside_lambda_a_framework_run_is_delimited_by_its_markers() -> None:
    """A container stream has no request id: a framework's start marker opens a run (nested
    chains counted), its end marker closes it, and the lines between belong to it."""
    parser = LogParser(default_rules())
    delivery = Delivery("/aws/containerinsights/agents/application", "pod_agents_agent")
    lines = [
        "> Entering new AgentExecutor chain...",
        "Invoking: `get_weather` with `{'city': 'Paris'}`",
        "> Entering new LLMChain chain...",
        "> Finished chain.",
        "Sunny, 21 C in Paris",
        "> Finished chain.",
        "between two runs",
        "> Entering new AgentExecutor chain...",
        "Invoking: `get_weather` with `{'city': 'Rome'}`",
    ]
    events, _ = parser.parse_delivery(delivery, [(str(i), CW_TS + i, line) for i, line in enumerate(lines)])
    sessions = [e.get("session_id") for e in events]
    first, second = sessions[0], sessions[7]
    assert first and first.startswith("run-") and second.startswith("run-") and first != second
    assert sessions[:6] == [first] * 6
    assert sessions[6] is None
    assert sessions[7:] == [second] * 2
    again, _ = LogParser(default_rules()).parse_delivery(
        Delivery(delivery.log_group, delivery.log_stream),
        [(str(i), CW_TS + i, line) for i, line in enumerate(lines)],
    )
    assert [e.get("session_id") for e in again] == sessions  # the same run ids on a redelivery


def test_a_call_that_does_not_say_its_model_takes_the_one_its_run_last_named() -> None:
    """smolagents names the model once, in its run's header; CrewAI and Logfire just before each
    call. The HTTP line of the call says no model: it takes that one, marked as inferred, and only
    within its own run."""
    parser = LogParser(default_rules())
    delivery = Delivery("/aws/lambda/agent", "2026/11/30/[$LATEST]abc")
    lines = [
        "START RequestId: 11111111-1111-1111-1111-111111111111 Version: $LATEST",
        "10:17:00.676   chat gpt-4o-mini",
        "[INFO]\t2026-11-30T10:17:00.697Z\t11111111-1111-1111-1111-111111111111\tHTTP Request: POST "
        'http://127.0.0.1:33403/v1/chat/completions "HTTP/1.1 200 OK"',
        "END RequestId: 11111111-1111-1111-1111-111111111111",
        "START RequestId: 22222222-2222-2222-2222-222222222222 Version: $LATEST",
        "[INFO]\t2026-11-30T10:17:01.697Z\t22222222-2222-2222-2222-222222222222\tHTTP Request: POST "
        'http://127.0.0.1:33403/v1/chat/completions "HTTP/1.1 200 OK"',
    ]
    events, _ = parser.parse_delivery(delivery, [(str(i), CW_TS + i, line) for i, line in enumerate(lines)])
    calls = [e for e in events if e["event_type"] == "llm_call"]
    assert [c["properties"].get("model") for c in calls] == ["gpt-4o-mini", None]
    assert calls[0]["properties"]["model_inferred"] is True
    assert "model_inferred" not in calls[1]["properties"]


def test_a_record_that_holds_tool_calls_makes_one_tool_call_event_per_call() -> None:
    """LangGraph prints the model's message with the tools it asks for; each is a tool_call event,
    caused by that record, with an id of its own that a redelivery reproduces."""
    line = (
        "\x1b[1m[updates]\x1b[0m {'agent': {'messages': [AIMessage(content='', additional_kwargs={'refusal': None}, "
        "response_metadata={'token_usage': {'completion_tokens': 61, 'prompt_tokens': 15, 'total_tokens': 76}, "
        "'model_name': 'gpt-4o-mini', 'finish_reason': 'tool_calls'}, id='run-1', "
        "tool_calls=[{'name': 'get_weather', 'args': {'city': 'Paris'}, 'id': 'call_3580bf76713a', 'type': 'tool_call'}, "
        "{'name': 'get_weather', 'args': {'city': 'Rome'}, 'id': 'call_d18dc5352da4', 'type': 'tool_call'}], "
        "invalid_tool_calls=[], usage_metadata={'input_tokens': 15, 'output_tokens': 61, 'total_tokens': 76})]}}"
    )
    lines = [
        ("3791", CW_TS, "START RequestId: 11111111-1111-1111-1111-111111111111 Version: $LATEST"),
        ("3792", CW_TS, line),
    ]

    def parse() -> list[dict[str, Any]]:
        delivery = Delivery("/aws/lambda/agent", "2026/11/30/[$LATEST]abc")
        return LogParser(default_rules()).parse_delivery(delivery, lines)[0]

    llm, *calls = parse()
    assert llm["event_type"] == "llm_call" and llm["properties"]["model"] == "gpt-4o-mini"
    assert [(c["properties"]["tool_name"], c["properties"]["tool_input"]) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    from vectadb.core.ids import log_event_id

    assert {c["parent_event_id"] for c in calls} == {log_event_id("/aws/lambda/agent", "3792")}
    assert {c["session_id"] for c in calls} == {"11111111-1111-1111-1111-111111111111"}
    assert len({c["event_id"] for c in calls}) == 2
    assert [c["event_id"] for c in parse()[1:]] == [c["event_id"] for c in calls]


def test_langchain_s_tools_node_start_holds_the_calls_it_runs() -> None:
    text = (
        "\x1b[32;1m\x1b[1;3m[chain/start]\x1b[0m \x1b[1m[chain:LangGraph > chain:tools] Entering Chain run with input:\n"
        '\x1b[0m{\n  "input": [\n    {\n      "name": "get_weather",\n      "args": {\n        "city": "Paris"\n'
        '      },\n      "id": "call_fada72e5dec7",\n      "type": "tool_call"\n    }\n  ]\n}'
    )
    delivery = Delivery("/aws/containerinsights/agents/application", "pod_agents_agent")
    record, call = LogParser(default_rules()).parse_delivery(delivery, [("1", CW_TS, text)])[0]
    assert record["event_type"] == "log" and record["properties"]["rule"] == "langchain_tools_node_start"
    assert call["event_type"] == "tool_call"
    assert call["properties"]["tool_input"] == {"city": "Paris"}
    assert call["properties"]["tool_call_id"] == "call_fada72e5dec7"


def test_outside_lambda_the_lines_printed_while_a_span_was_open_belong_to_its_trace() -> None:
    """The console exporter prints a span when it ends: the HTTP client's line of the call, printed
    during the span, joins the span's trace; a line printed after it does not."""
    span = json.dumps(
        {
            "name": "chat gpt-4o-mini",
            "context": {"trace_id": "0x" + "ab" * 16, "span_id": "0x" + "cd" * 8},
            "parent_id": None,
            "start_time": "2026-01-07T17:00:00.004000Z",
            "end_time": "2026-01-07T17:00:00.050000Z",
            "status": {"status_code": "UNSET"},
            "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"},
        }
    )
    http = 'INFO:httpx:HTTP Request: POST http://127.0.0.1:1/v1/chat/completions "HTTP/1.1 200 OK"'
    start = 1767805200000  # 2026-01-07T17:00:00Z
    lines = [("1", start + 20, http), ("2", start + 60, span), ("3", start + 70, "after the span")]
    delivery = Delivery("/aws/containerinsights/agents/application", "pod_agents_agent")
    during, span_event, after = LogParser(default_rules()).parse_delivery(delivery, lines)[0]
    assert span_event["session_id"] == "otel-" + "ab" * 16
    assert during["session_id"] == span_event["session_id"]
    assert "session_id" not in after


def test_a_logged_exception_s_message_line_and_its_traceback_are_one_record() -> None:
    """basicConfig writes logger.debug("...", exc_info=True) as lines a container's log cuts apart:
    one record, with the message's level, so a handled exception is not a crash; a traceback
    printed apart from the line before it stays a record of its own."""
    lines = [
        ("1", CW_TS, "DEBUG:strands.event_loop.event_loop:event loop cycle failed"),
        ("2", CW_TS, "Traceback (most recent call last):"),
        ("3", CW_TS, '  File "/app/agent.py", line 3, in run'),
        ("4", CW_TS, "openai.InternalServerError: Error code: 500"),
        ("5", CW_TS + 5, "DEBUG:openai.agents:Resetting current trace"),
        ("6", CW_TS + 9, "Traceback (most recent call last):"),
        ("7", CW_TS + 9, '  File "/app/agent.py", line 9, in main'),
        ("8", CW_TS + 9, "openai.InternalServerError: Error code: 500"),
    ]
    delivery = Delivery("/aws/containerinsights/agents/application", "pod_agents_agent")
    logged, end, crash = LogParser(default_rules()).parse_delivery(delivery, lines)[0]
    assert logged["event_type"] == "error" and logged["properties"]["level"] == "DEBUG"
    assert logged["properties"]["log_ids"] == ["1", "2", "3", "4"]
    assert end["event_type"] == "agent_end"
    assert crash["event_type"] == "agent_error"  # no logger printed it: the process crashed
    assert crash["properties"]["log_ids"] == ["6", "7", "8"]


def test_empty_lines_written_with_a_record_are_part_of_it() -> None:
    """LangChain prints "\\n\\n> Entering new AgentExecutor chain...": the empty lines of that write
    belong to the marker (their ids kept with it); an empty line written apart stays a line."""
    lines = [
        ("1", CW_TS, "Sunny, 21 C in Paris"),
        ("2", CW_TS + 40, ""),
        ("3", CW_TS + 40, ""),
        ("4", CW_TS + 41, "> Entering new AgentExecutor chain..."),
        ("5", CW_TS + 41, ""),
        ("6", CW_TS + 90, " "),
    ]
    delivery = Delivery("/aws/containerinsights/agents/application", "pod_agents_agent")
    events, stats = LogParser(default_rules()).parse_delivery(delivery, lines)
    assert [e["event_type"] for e in events] == ["log", "agent_start", "log"]
    start = events[1]
    assert start["properties"]["log_ids"] == ["2", "3", "4", "5"]
    assert start["source"]["log_id"] == "2" and start["timestamp"] == CW_TS + 40
    assert stats.lines == len(lines)


def test_a_step_s_running_totals_give_its_call_the_difference() -> None:
    """smolagents prints the run's token totals after each step; the step's HTTP request line says
    none: it takes the difference from the previous totals (the first step's are its own)."""
    http = 'HTTP Request: POST http://127.0.0.1:41939/v1/chat/completions "HTTP/1.1 200 OK"'
    lines = [
        "START RequestId: 11111111-1111-1111-1111-111111111111 Version: $LATEST",
        http,
        "[Step 1: Duration 0.03 seconds| Input tokens: 977 | Output tokens: 31]",
        http,
        "[Step 2: Duration 0.05 seconds| Input tokens: 2,028 | Output tokens: 69]",
    ]
    delivery = Delivery("/aws/lambda/agent", "2026/11/30/[$LATEST]abc")
    events, _ = LogParser(default_rules()).parse_delivery(
        delivery, [(str(i), CW_TS + i, line) for i, line in enumerate(lines)]
    )
    calls = [e["properties"] for e in events if e["event_type"] == "llm_call"]
    assert [(c["input_tokens"], c["output_tokens"]) for c in calls] == [(977, 31), (1051, 38)]
    # A later delivery that starts at step 2 knows only the run's totals, not the call's.
    later = Delivery("/aws/lambda/agent", "2026/11/30/[$LATEST]abc")
    events, _ = LogParser(default_rules()).parse_delivery(
        later, [("9", CW_TS, http), ("10", CW_TS, lines[4])]
    )
    assert "input_tokens" not in events[0]["properties"]
    assert events[1]["properties"]["run_input_tokens"] == 2028


def test_the_demo_shift_moves_every_time_a_line_writes_and_keeps_how_it_is_written() -> None:
    from vectadb.local.feed import shift_times

    day = 86_400
    line = (
        '{"timeUnixNano": 1767812400000000000, "time": "2026-01-07T19:00:00.000Z", "ms": 1767812400123, '
        '"logged": "2026-01-07 18:00:00,015+0000"} [INFO]\t2026-01-07T17:00:00.120Z\treq-1\tv1.2 x 1-6789aaaa'
    )
    moved = shift_times(line, 30 * day + 61)
    assert moved == (
        '{"timeUnixNano": 1770404461000000000, "time": "2026-02-06T19:01:01.000Z", "ms": 1770404461123, '
        '"logged": "2026-02-06 18:01:01,015+0000"} [INFO]\t2026-02-06T17:01:01.120Z\treq-1\tv1.2 x 1-6789aaaa'
    )
    assert parse_log_time("2026-02-06 18:01:01,015+0000") - parse_log_time(
        "2026-01-07 18:00:00,015+0000"
    ) == ((30 * day + 61) * 1000)
