"""Writing to a peer without an extra trip through the scheduler: used by both SMPP sides.

`trio.SocketStream.send_all` yields to the scheduler after every successful send (its
cancellation/yield sandwich), so each flush of a bind costs a second task step: the task is
rescheduled and the run loop polls epoll once more before it continues. At moderate load a
flush carries a PDU or two, and those extra steps were ~1 in 5 of all the daemon's task
steps (measured with a trio Instrument at 500 submit_sm/s; see the README's Performance).

`send_eagerly` first offers the bytes to the kernel directly. When the socket buffer takes
them all, which is nearly always, it returns without a schedule point; otherwise (a peer
that reads slowly, a TLS stream, an error) the stream's own `send_all` does the rest, with
trio's waiting, cancellation and error translation. Callers hold their connection's send
lock, as they do for `send_all`, and every caller's loop yields elsewhere (a read, a wait);
`acquire_eagerly` takes such a lock without a schedule point when it is free.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from smsswitch.smpp.session import Session


async def acquire_eagerly(lock: trio.Lock) -> None:
    """`await lock.acquire()` without its schedule point when the lock is free (the usual case):
    `trio.Lock.acquire` yields even then. Release it as usual."""
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()


async def flush_session(session: Session, stream: trio.abc.SendStream, lock: trio.Lock) -> None:
    """Write everything `session` has queued to `stream` in one send, under the connection's
    send `lock`; with nothing queued (most calls) it takes no lock and yields nothing."""
    if not session.has_data_to_send:
        return
    await acquire_eagerly(lock)
    try:
        data = session.data_to_send()
        if data:
            await send_eagerly(stream, data)
    finally:
        lock.release()


def offer_to_kernel(stream: trio.abc.SendStream, data: bytes) -> bytes:
    """Write what the socket under `stream` takes now, without waiting; returns the rest
    (all of `data` for a stream that is not a plain socket, e.g. TLS), for `send_all`."""
    if type(stream) is trio.SocketStream and data:
        try:
            sent = os.write(stream.socket.fileno(), data)  # the socket is non-blocking
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # closed or broken: send_all raises the matching trio error
        return data[sent:] if sent else data
    return data


async def send_eagerly(stream: trio.abc.SendStream, data: bytes) -> None:
    """`await stream.send_all(data)`, without yielding when the kernel takes all of it at once."""
    rest = offer_to_kernel(stream, data)
    if rest:
        await stream.send_all(rest)
