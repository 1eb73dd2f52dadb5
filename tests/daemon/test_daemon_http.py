"""The REST API and webhooks as the daemon serves them: API key auth, submit over HTTP, the
receipt pushed to the tenant's webhook (signed), state over GET, audit of operator actions."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from smsswitch.harness import DaemonProcess, write_config
from smsswitch.http.signing import verify

pytestmark = pytest.mark.timeout(120)

DEMO_KEY = "demo-send.VFC7vohwS9XddDh4PfFaNpi_W0NV6AurmkIv1fvjLRc"
OPS_KEY = "ops-admin.VGOZJ7bNDWY4AaUZn9Ko0yOQkCKliwJ4wqAOcfzSq5Q"
SECRET = "hook-secret"


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 recording every webhook request."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"{len(self.requests)} webhook requests, wanted {count}"


def test_rest_submit_webhook_receipt_and_audit(tmp_path: Path) -> None:
    receiver = Receiver()
    config = write_config(
        tmp_path,
        {"tenants": {"demo": {"deliver_via": ["webhook"], "webhook": {"url": receiver.url, "secret": SECRET}}}},
    )
    try:
        with DaemonProcess(config) as daemon:
            daemon.start()
            api = httpx.Client(base_url=daemon.http_url, timeout=10)
            # No key, a wrong key: refused with stable JSON error codes.
            assert api.post("/v1/messages", json={}).status_code == 401
            wrong = api.post("/v1/messages", json={}, headers={"Authorization": "Bearer demo-send.nope"})
            assert wrong.status_code in (401, 403) and "code" in wrong.json()["error"]
            headers = {"Authorization": f"Bearer {DEMO_KEY}", "Idempotency-Key": "order-1"}
            body = {"to": "+263771234567", "from": "DEMO", "text": "hello over REST"}
            first = api.post("/v1/messages", json=body, headers=headers)
            assert first.status_code in (200, 201, 202), first.text
            again = api.post("/v1/messages", json=body, headers=headers)
            assert again.json() == first.json()  # a retried POST is not a second message
            message_id = first.json()["messageId"]
            receiver.wait(1)
            sent_headers, sent_body = receiver.requests[0]
            assert verify(SECRET, sent_headers.get("x-smsswitch-signature"), sent_body, time.time())
            event = json.loads(sent_body)
            assert event["messageId"] == message_id and event["status"] in ("DELIVERED", "DELIVRD", "delivered")
            state = api.get(f"/v1/messages/{message_id}", headers={"Authorization": f"Bearer {DEMO_KEY}"}).json()
            assert json.dumps(state).count("DELIVERED") or json.dumps(state).lower().count("delivered")
            # Only one message reached the carrier for the two POSTs.
            assert daemon.metric("smsswitch_connector_submits_total", connector="sim") == 1
            # A send-scoped key cannot reload routes; the operator key can, and it is audited.
            denied = api.post("/v1/admin/routes/reload", headers={"Authorization": f"Bearer {DEMO_KEY}"})
            assert denied.status_code == 403
            reload = api.post("/v1/admin/routes/reload", headers={"Authorization": f"Bearer {OPS_KEY}"})
            assert reload.status_code == 200, reload.text
            assert daemon.metric("smsswitch_reloads_total", result="ok") == 1
            audit = api.get("/v1/admin/audit", headers={"Authorization": f"Bearer {OPS_KEY}"})
            assert "routes.reload" in audit.text
            assert api.get("/openapi.json").json()["openapi"].startswith("3")
            assert daemon.stop() == 0
    finally:
        receiver.server.shutdown()
