#!/usr/bin/env python3
"""Route lookups per second on one core, for a 10-rule table and a 50,000-prefix-rule table.

Numbers are parsed before timing (the switch parses each number once on accept; routing only
reads the result). Prints one JSON line:

    .venv/bin/python scripts/bench_routing.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smsswitch.numbers import parse_number  # noqa: E402
from smsswitch.routing import RouteTable, compile_routes  # noqa: E402

NOW = datetime(2024, 5, 15, 10, 0, tzinfo=timezone.utc)
TENANTS = ["demo", "acme", "beta"]

TEN_RULES = {
    "version": 1,
    "networks": {"zw-netone": ["+26371"]},
    "prices": {"sim": {"+263": 0.02, "+44": 0.03}, "backup": {"+263": 0.015, "+44": 0.035}},
    "mt": [
        {"name": "block-99", "match": {"prefixes": ["+99"]}, "reject": {"status": "ESME_RINVDSTADR"}},
        {"name": "premium", "match": {"number_type": ["premium_rate"]}, "reject": {"status": "ESME_RINVDSTADR"}},
        {
            "name": "acme-otp",
            "match": {
                "tenants": ["acme"], "countries": ["ZW"], "number_type": "mobile", "sender": "ACME*",
                "data_coding": [0, 8], "time": {"days": "mon-fri", "from": "08:00", "to": "20:00", "tz": "Africa/Harare"},
            },
            "connectors": ["sim", "backup"],
        },
        {"name": "netone", "match": {"networks": ["zw-netone"]}, "connectors": ["backup", "sim"]},
        {"name": "beta-all", "match": {"tenants": ["beta"]}, "connectors": ["backup"]},
        {"name": "uk-split", "match": {"prefixes": ["+4477", "+4478"]}, "split": {"sim": 70, "backup": 30}},
        {"name": "uk-lcr", "match": {"countries": [44]}, "least_cost": ["sim", "backup"]},
        {"name": "zw", "match": {"countries": ["ZW"]}, "connectors": ["sim"]},
        {"name": "us", "match": {"countries": ["US", "CA"]}, "connectors": ["backup"]},
        {"name": "default", "connectors": ["sim"]},
    ],
}


def big_table_doc(count: int, rng: random.Random) -> dict:
    """`count` rules with distinct prefixes of 5-9 digits under +263, +44, +1, +27, +254."""
    seen: set[str] = set()
    rules = []
    while len(rules) < count:
        country = rng.choice(["263", "44", "1", "27", "254"])
        prefix = "+" + country + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 6)))
        if prefix in seen:
            continue
        seen.add(prefix)
        rules.append({"name": f"p{len(rules)}", "match": {"prefixes": [prefix]}, "connectors": [f"c{len(rules) % 7}"]})
    rules.append({"name": "default", "connectors": ["c0"]})
    return {"version": 1, "mt": rules}


def destinations(rng: random.Random, count: int) -> list:
    samples = []
    for _ in range(count):
        country, length = rng.choice([("263", 9), ("44", 10), ("1", 10), ("27", 9), ("254", 9)])
        samples.append(parse_number("+" + country + "".join(rng.choice("0123456789") for _ in range(length)), 1, 1))
    return samples


def lookups_per_second(table: RouteTable, dests: list, seconds: float) -> float:
    route = table.route_mt
    jobs = [(TENANTS[i % 3], dest, "ACME" if i % 2 else "INFO", 0 if i % 4 else 8, (i % 100) / 100) for i, dest in enumerate(dests)]
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for tenant, dest, source, dc, draw in jobs:
            route(tenant, dest, source, dc, NOW, draw)
        done += len(jobs)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per table")
    args = parser.parse_args()
    rng = random.Random(6)
    dests = destinations(rng, 5000)

    small = compile_routes(TEN_RULES)
    started = time.perf_counter()
    big = compile_routes(big_table_doc(50_000, rng))
    compile_seconds = time.perf_counter() - started

    result = {
        "lookups_per_s_10_rules": round(lookups_per_second(small, dests, args.seconds)),
        "lookups_per_s_50000_rules": round(lookups_per_second(big, dests, args.seconds)),
        "compile_s_50000_rules": round(compile_seconds, 2),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
