"""Logging setup: structlog key/value events, JSON lines in production, colours on a terminal.

Phone numbers and message text are personal data: every event passes through `mask_pii`,
which shortens values under known keys (`to`, `from`, `msisdn`, `text`, …) unless the operator
set `logging.unmask` for debugging. Code logs numbers under those keys and never inside the
event string, so masking is a dict lookup, not a regex over every line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

NUMBER_KEYS = frozenset(
    {"to", "from", "msisdn", "source", "destination", "source_addr", "destination_addr", "sender", "number"}
)
TEXT_KEYS = frozenset({"text", "content", "short_message", "body", "payload"})

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def mask_number(value: object) -> str:
    """Keep enough of a number to recognise the network, hide the subscriber: +26377*****67."""
    text = str(value)
    if len(text) <= 4:
        return "*" * len(text)
    keep_head = 6 if text.startswith("+") else 5
    keep_head = min(keep_head, len(text) - 4)
    return text[:keep_head] + "*" * (len(text) - keep_head - 2) + text[-2:]


def mask_text(value: object) -> str:
    return f"<{len(value) if hasattr(value, '__len__') else '?'} chars>"  # type: ignore[arg-type]


def make_masker(unmask: bool) -> Any:
    def mask_pii(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        if unmask:
            return event
        for key in event.keys() & NUMBER_KEYS:
            if event[key] is not None:
                event[key] = mask_number(event[key])
        for key in event.keys() & TEXT_KEYS:
            if event[key] is not None:
                event[key] = mask_text(event[key])
        return event

    return mask_pii


def configure_logging(
    level: str = "info", fmt: str = "auto", unmask: bool = False, stream: TextIO | None = None
) -> None:
    """Configure structlog for the whole process (call once, at start or reload)."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            make_masker(unmask),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
