"""/openapi.json is kept true: it names exactly the routes the app serves, and a
schemathesis run (positive and negative cases, bounded) against the live server on the real
switch finds no server error and no answer outside the documented statuses and schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from smsswitch.http.openapi import openapi_document
from tests.http.stack import running

#: Examples per operation and generation mode: bounded so the whole run stays a few seconds.
MAX_EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


async def test_document_names_exactly_the_served_routes(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client() as http:
        served = await http.get("/openapi.json")
    assert served.status_code == 200 and served.json() == openapi_document()
    documented = {(path, method.upper()) for path, item in openapi_document()["paths"].items() for method in item
                  if method != "parameters"}  # fmt: skip
    routes = {(r.path, m) for r in stack.api.app.routes if isinstance(r, Route) for m in r.methods or ()
              if m != "HEAD" and r.path != "/openapi.json"}  # fmt: skip
    assert routes == documented


def fuzz(port: int, token: str) -> dict[str, int]:
    schema = schemathesis.openapi.from_dict(openapi_document())
    session = requests.Session()
    session.trust_env = False
    base_url = f"http://127.0.0.1:{port}"
    calls: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/events":
            continue  # an endless stream: covered by test_events.py
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                # schemathesis makes up bearer tokens from the security scheme: use a real one
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
                response = case.call(base_url=base_url, session=session)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                calls[operation.label] = calls.get(operation.label, 0) + 1
                case.validate_response(response, checks=CHECKS)

            run()
    print("fuzz statuses", sorted(statuses.items()))
    return calls


async def test_fuzzing_the_openapi_document_finds_no_server_error(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        calls = await trio.to_thread.run_sync(fuzz, stack.port, stack.tokens["root"])
        assert stack.journal.check() == []
    operations = sum(len(item) for item in openapi_document()["paths"].values())
    assert len(calls) == operations - 1  # every operation but the stream
    assert all(n >= 2 for n in calls.values())
