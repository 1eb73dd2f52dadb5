"""Route tables: YAML rules compiled into fast MT (tenant → carrier) and MO (carrier → tenant)
lookups, with a checker and explain. Imports only smpp.constants, numbers and yamlconf.

    table = compile_routes("config/routes.yaml", known_tenants={...}, known_connectors={...})
    decision = table.route_mt(tenant, dest_info, source, data_coding, now, draw)
    mo = table.route_mo(to, text, sender_info, connector)
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
