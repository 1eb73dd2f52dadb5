"""Route tables: YAML rules compiled into fast MT (tenant → carrier) and MO (carrier → tenant)
lookups, with a checker and explain. Imports only smpp.constants, numbers and yamlconf.

    table = compile_routes("config/routes.yaml", known_tenants={...}, known_connectors={...})
    decision = table.route_mt(tenant, dest_info, source, data_coding, now, draw)   # MtDecision
    mo = table.route_mo(to, text, sender_info, connector)                          # MoDecision

Route file format (version 1; every list may also be written as a single value)::

    version: 1
    tenant_groups: {retail: [demo, acme]}          # for match.tenant_groups
    networks: {zw-netone: ["+26371"]}              # prefix → network, beats phonenumbers' data
    prices: {sim: {"+263": 0.02, "+26377": 0.018}} # per connector, longest prefix wins
    no_route: {status: ESME_RINVDSTADR, reason: "..."}   # when no MT rule matches (default)
    mt:                                            # first matching rule wins
      - name: unique-name
        match:                                     # all given conditions must hold; none = any
          tenants: [acme]            tenant_groups: [retail]
          prefixes: ["+26377"]       countries: [ZW, 44]        # ISO region or calling code
          networks: [Econet, zw-netone]                         # case-insensitive
          number_type: [mobile]      # phonenumbers types; mobile/fixed_line include fixed_line_or_mobile
          sender: ["ACME*"]          # globs on source address / sender id, case-insensitive
          data_coding: [0, 8]
          time: {days: mon-fri, from: "08:00", to: "20:00", tz: Africa/Harare}  # or a list
        # exactly one action:
        connectors: [sim, backup]    # failover in this order
        split: {sim: 70, backup: 30} # weighted pick by the caller's draw; others follow as failover
        least_cost: [sim, backup]    # cheapest for the destination first (prices:)
        reject: {status: ESME_RINVDSTADR, reason: "..."}
    mo:
      - name: unique-name
        match: {to: ["60682", "+263771000000"], to_prefixes: ["+26377"], keyword: [JOIN],
                from_prefixes: ["+263"], from_countries: [ZW], connectors: [sim]}
        deliver: {tenant: demo, via: [smpp, webhook]}   # via omitted: the tenant's default
        # or: drop: "reason"
    mo_default: {tenant: demo}                   # unmatched MO; omitted → dead letters
    opt_out: {stop: [ARRÊT], start: [ARRIBA], standard: true}  # added to STOP…/START, UNSTOP
"""

from smsswitch.routing.compiler import check_routes, compile_routes
from smsswitch.routing.decisions import MoDecision, MtDecision
from smsswitch.routing.explain import Explanation, RuleVerdict
from smsswitch.routing.keywords import first_keyword, normalize_keyword
from smsswitch.routing.table import RouteTable

__all__ = [
    "Explanation",
    "MoDecision",
    "MtDecision",
    "RouteTable",
    "RuleVerdict",
    "check_routes",
    "compile_routes",
    "first_keyword",
    "normalize_keyword",
]
