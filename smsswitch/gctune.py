"""Cyclic garbage collector settings for a long-running daemon process.

CPython's defaults (a gen-0 pass every 700 net allocations) suit short scripts. The switch
allocates a few dozen short-lived objects per message, nearly all freed by reference
counting, so the default pace ran ~1,300 gen-0 and ~10 full passes per 30,000 messages:
~10 % of the daemon's CPU, and full passes of up to ~170 ms over everything loaded at
start (config, route tables, phonenumbers metadata) — a submit_resp p99 tail by itself.
Measured with gc.callbacks around scripts/bench_e2e.py (see the README's Performance).

After start-up the long-lived objects are frozen (never traversed again) and collections
run every GEN0_THRESHOLD net allocations: cyclic garbage (trio's cancelled scopes,
exceptions with tracebacks) is still reclaimed, just in fewer, larger passes.
"""

from __future__ import annotations

import gc

#: Net allocations between gen-0 passes: ~14x fewer passes; one costs a few ms at most.
GEN0_THRESHOLD = 10_000
#: Gen-0 passes per gen-1 pass, gen-1 passes per full pass (CPython: 10, 10).
GEN1_THRESHOLD = 20
GEN2_THRESHOLD = 100


def tune_for_daemon() -> None:
    """Collect once, freeze what start-up built, and space out later collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
