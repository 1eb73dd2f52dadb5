#!/usr/bin/env python3
"""Cost of one policy check per message, on one core, with a tenant holding hundreds of
templates (many sharing "Your ..." openings, some opening with a placeholder).

Numbers are parsed before timing (the switch parses them once on accept); the text is
decoded inside the check, from GSM 03.38 or UCS2 octets, as on the hot path. Also times a
linear scan over the same compiled regexes, to show what the index saves, and one
auto-reply decision (most of them refused by the rate limit, as in a flood). Prints one
JSON line:

    .venv/bin/python scripts/bench_policy.py [--templates 500] [--seconds 1]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smsswitch.logs import configure_logging  # noqa: E402
from smsswitch.numbers import NumberInfo, parse_number  # noqa: E402
from smsswitch.policy import AutoReplier, InMemorySuppression, ReplyTemplate, load_policy_text  # noqa: E402
from smsswitch.policy.templates import normalize_text  # noqa: E402
from smsswitch.smpp.text import encode_text  # noqa: E402

BRANDS = ["ACME", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Wonka", "Tyrell"]
OPENINGS = [
    "Your code is {code:digits(4-8)}",
    "Your {brand} code is {code:digits(4-8)}",
    "Your order {order:alnum(6-12)} from {brand}",
    "Your parcel {ref:alnum(8-14)} is on its way",
    "Hello {name:text(1-30)}, welcome to {brand}",
    "{code:digits(6)} is your {brand} verification code",
    "Dear customer, your {brand} balance is {amount:text(1-12)}",
    "Reminder: your {brand} appointment on {day:text(3-20)}",
]


@attrs.define
class Message:
    source: NumberInfo
    destination: NumberInfo
    data_coding: int
    payload: bytes
    esm_class: int = 0
    part: tuple[int, int, int] | None = None


def templates(count: int, rng: random.Random) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while len(out) < count:
        brand = BRANDS[i % len(BRANDS)]
        opening = OPENINGS[(i // len(BRANDS)) % len(OPENINGS)].replace("{brand}", brand)
        out[f"t{i}"] = f"{opening}. Ref {i}: expires in {{minutes:digits(1-2)}} minutes."
        i += 1
    return out


def fill(template: str) -> str:
    """A text the template matches: each placeholder replaced by a value of its kind."""
    values = {"digits": "123456789", "alnum": "AB12CD34EF56GH78", "text": "Monday 3pm and more"}

    def value(found: re.Match[str]) -> str:
        low = int(found.group(2))
        return values[found.group(1)][: max(low, 1) if found.group(1) != "text" else max(low, 6)]

    return re.sub(r"\{\w+:(\w+)\((\d+)(?:-\d+)?\)\}", value, template)


def policy_yaml(count: int, rng: random.Random) -> str:
    lines = ["tenants:", "  bulk:", "    templates_only: true", "    templates:"]
    lines += [f"      {name}: {json.dumps(text)}" for name, text in templates(count, rng).items()]
    lines += ["  open:", "    destinations: {require_valid: true}"]
    return "\n".join(lines) + "\n"


def per_call(fn, seconds: float) -> tuple[float, int]:  # noqa: ANN001
    """Mean µs per call over about `seconds`."""
    calls = 0
    batch = 200
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls * 1e6, calls


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--templates", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    configure_logging(level="warning", fmt="json")  # as in production: debug lines filtered out
    rng = random.Random(7)
    policy = load_policy_text(policy_yaml(args.templates, rng), "bench.yaml")
    source = parse_number("ACME", 5, 0, None)
    dest = parse_number("+263771234567", 1, 1, None)
    suppressed = InMemorySuppression([("bulk", "+263770000001")])
    last = args.templates - 1
    hit_text = fill(templates(args.templates, rng)[f"t{last}"])
    hit_ucs2 = "Hello Zoë 😀, welcome to ACME. Ref 40: expires in 9 minutes."
    miss_text = "Your code is 123456. Buy cheap watches now!"
    samples = {
        "permissive": ("open", Message(source, dest, 0, encode_text("hello there", 0))),
        "template_hit_gsm": ("bulk", Message(source, dest, 0, encode_text(hit_text, 0))),
        "template_hit_ucs2": ("bulk", Message(source, dest, 8, encode_text(hit_ucs2, 8))),
        "template_miss": ("bulk", Message(source, dest, 0, encode_text(miss_text, 0))),
    }
    expected = {"permissive": None, "template_hit_gsm": f"t{last}", "template_hit_ucs2": "t40", "template_miss": None}
    result: dict[str, object] = {"bench": "policy", "templates": args.templates}
    for label, (tenant, message) in samples.items():
        verdict = policy.check_mt(tenant, message, None, suppressed)
        assert verdict.template == expected[label], (label, verdict)
        us, calls = per_call(lambda t=tenant, m=message: policy.check_mt(t, m, None, suppressed), args.seconds)
        result[f"{label}_us"] = round(us, 2)
    regexes = [t.regex for t in policy.tenants["bulk"].templates.templates]  # type: ignore[union-attr]
    normal = normalize_text(hit_text)
    linear_us, _ = per_call(lambda: next((r for r in regexes if r.fullmatch(normal)), None), args.seconds)
    result["linear_scan_hit_us"] = round(linear_us, 2)
    candidates = policy.tenants["bulk"].templates.candidates(normal)  # type: ignore[union-attr]
    result["candidates_for_hit"] = len(candidates)
    replier = AutoReplier(policy.auto_replies)
    template = ReplyTemplate("ack", "Thanks! {tenant} got your {keyword}.")
    senders = [parse_number(f"+26377{i:07d}", 1, 1, None) for i in range(1000)]
    clock = iter(range(10**9))
    reply_us, _ = per_call(
        lambda: replier.decide(senders[next(clock) % 1000], "60682", template, False, 0.0, tenant="t", keyword="join",
                               mo_text="JOIN please"),
        args.seconds,
    )  # fmt: skip
    result["autoreply_decide_us"] = round(reply_us, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
