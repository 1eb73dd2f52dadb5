"""Kannel as a tenant ESME: render its config, start bearerbox + smsbox, wait until its SMPP
link is online, send through its HTTP sendsms interface.
"""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

import attrs
import trio

from smsswitch.harness import free_port
from tests.interop.http_peer import http_get
from tests.interop.peers import KANNEL_DIR, JsonLinesProcess, ProcessGroup, require_kannel


@attrs.define
class Kannel:
    dir: Path
    admin_port: int
    sendsms_port: int
    bearerbox: JsonLinesProcess
    smsbox: JsonLinesProcess

    async def status(self) -> ET.Element:
        """bearerbox's status.xml."""
        _, body = await http_get(self.admin_port, "/status.xml?password=interop")
        return ET.fromstring(body)

    async def smsc_online(self) -> bool:
        """The SMPP link is bound and smsbox is connected to bearerbox."""
        status = await self.status()
        smsc = status.findtext("smscs/smsc/status") or ""
        boxes = [box.findtext("type") for box in status.iterfind("boxes/box")]
        return smsc.startswith("online") and "smsbox" in boxes

    async def wait_online(self, timeout: float = 20.0) -> None:
        """Until bearerbox reports its SMPP link online and smsbox accepts sendsms requests."""
        with trio.move_on_after(timeout):
            while True:
                try:
                    if await self.smsc_online() and await self._sendsms_up():
                        return
                except (OSError, ET.ParseError):
                    pass
                await trio.sleep(0.1)
        raise AssertionError(f"Kannel not online within {timeout}s\n{self.logs()}")

    async def _sendsms_up(self) -> bool:
        try:
            status, _ = await http_get(self.sendsms_port, "/", timeout=2)
        except OSError:
            return False
        return status > 0

    async def sendsms(self, **params: str | int) -> tuple[int, str]:
        query = urlencode({"username": "tester", "password": "foobar", **params})
        return await http_get(self.sendsms_port, f"/cgi-bin/sendsms?{query}", timeout=10)

    def logs(self, tail: int = 60) -> str:
        out = []
        for name in ("bearerbox.log", "smsbox.log"):
            path = self.dir / name
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-tail:]
                out.append(f"--- {name} ---\n" + "\n".join(lines))
        return "\n".join(out)


async def start_kannel(processes: ProcessGroup, workdir: Path, *, smpp_port: int, system_id: str,
                       password: str, http_port: int, smsc_extra: str = "") -> Kannel:
    bearerbox_bin, smsbox_bin = require_kannel()
    ports = {"admin_port": free_port(), "smsbox_port": free_port(), "sendsms_port": free_port()}
    template = string.Template((KANNEL_DIR / "kannel.conf.template").read_text())
    conf = workdir / "kannel.conf"
    conf.write_text(template.substitute(
        dir=workdir, smpp_port=smpp_port, system_id=system_id, password=password,
        http_port=http_port, smsc_extra=smsc_extra, **ports,
    ))
    bearerbox = await processes.start(
        JsonLinesProcess("bearerbox", [bearerbox_bin, str(conf)], cwd=workdir, exits_on_eof=False))
    kannel = Kannel(workdir, ports["admin_port"], ports["sendsms_port"], bearerbox, bearerbox)
    # smsbox gives up at once when bearerbox is not listening yet: start it once it is.
    with trio.move_on_after(15):
        while True:
            try:
                await kannel.status()
                break
            except (OSError, ET.ParseError):
                if bearerbox.exited.is_set():
                    raise AssertionError(f"bearerbox exited\n{bearerbox.describe()}\n{kannel.logs()}")
                await trio.sleep(0.1)
    kannel.smsbox = await processes.start(
        JsonLinesProcess("smsbox", [smsbox_bin, str(conf)], cwd=workdir, exits_on_eof=False))
    return kannel
