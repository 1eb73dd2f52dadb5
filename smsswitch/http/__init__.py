"""The HTTP edge: metrics/health (app.py), the REST API (api.py: messages, events, opt-outs,
erase, route reload, redrive, audit), webhook delivery from the outbox (webhooks.py) and the
`audit`/`apikey` commands (cli.py). Sits above the core; nothing below imports it.

Events (receipts, MO) have one versioned JSON shape (events.py) whether they arrive by
webhook or on the /v1/events stream; webhook requests are signed (signing.py).
"""
