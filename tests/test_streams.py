"""send_eagerly over real loopback sockets: no schedule point when the kernel takes the bytes,
the stream's own send_all (waiting, errors) when it does not."""

from __future__ import annotations

import trio
import trio.testing

from smsswitch.streams import offer_to_kernel, send_eagerly


async def socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    return client, server


async def receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = bytearray()
    with trio.fail_after(10):
        while len(data) < size:
            chunk = await stream.receive_some(size - len(data))
            assert chunk, "peer closed early"
            data += chunk
    return bytes(data)


async def test_small_write_goes_out_without_a_schedule_point() -> None:
    client, server = await socket_pair()
    async with client, server:
        with trio.testing.assert_no_checkpoints():
            await send_eagerly(client, b"hello")
        assert await receive_exactly(server, 5) == b"hello"


async def test_write_larger_than_the_socket_buffer_waits_and_arrives_whole() -> None:
    client, server = await socket_pair()
    payload = bytes(range(256)) * 40_000  # ~10 MB: far more than loopback buffers hold
    async with client, server:
        received: list[bytes] = []

        async def reader() -> None:
            await trio.sleep(0.05)  # let the writer fill the buffer and block first
            received.append(await receive_exactly(server, len(payload)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            with trio.fail_after(20):
                await send_eagerly(client, payload)
        assert received == [payload]


async def test_closed_and_broken_streams_raise_trio_errors() -> None:
    client, server = await socket_pair()
    await client.aclose()
    try:
        await send_eagerly(client, b"x")
    except trio.ClosedResourceError:
        pass
    else:
        raise AssertionError("a closed stream must raise ClosedResourceError")
    await server.aclose()

    client, server = await socket_pair()
    await server.aclose()
    try:
        with trio.fail_after(10):
            for _ in range(100):  # the first writes may land before the reset comes back
                await send_eagerly(client, b"x" * 65536)
                await trio.sleep(0.01)
    except trio.BrokenResourceError:
        pass
    else:
        raise AssertionError("a reset peer must raise BrokenResourceError")
    finally:
        await client.aclose()


async def test_other_streams_use_their_own_send_all() -> None:
    left, right = trio.testing.memory_stream_pair()
    await send_eagerly(left, b"over memory")
    assert await right.receive_some() == b"over memory"


async def test_offer_to_kernel_returns_what_the_socket_did_not_take() -> None:
    client, server = await socket_pair()
    async with client, server:
        with trio.testing.assert_no_checkpoints():
            assert offer_to_kernel(client, b"hello") == b""
            payload = bytes(range(256)) * 40_000  # ~10 MB, nobody reading: most of it stays
            rest = offer_to_kernel(client, payload)
        assert 0 < len(rest) < len(payload) and payload.endswith(rest)
        assert await receive_exactly(server, 5) == b"hello"


async def test_offer_to_kernel_leaves_a_stream_that_is_not_a_socket_to_send_all() -> None:
    send_stream, _ = trio.testing.memory_stream_pair()
    assert offer_to_kernel(send_stream, b"data") == b"data"
