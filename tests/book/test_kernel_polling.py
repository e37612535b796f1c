"""kernel_polling's sliced ``get_msg`` keeps the channel's contract, on real ZeroMQ sockets."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session
from kernel_polling import SLICE, get_msg_in_slices


async def _pair() -> tuple[AsyncZMQSocketChannel, zmq.asyncio.Socket, Session]:
    ctx = zmq.asyncio.Context.instance()
    receiver, sender = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    port = receiver.bind_to_random_port("tcp://127.0.0.1")
    sender.connect(f"tcp://127.0.0.1:{port}")
    session = Session(key=b"kernel-polling-test")
    return AsyncZMQSocketChannel(receiver, session), sender, session


def test_the_tests_process_uses_the_sliced_poll() -> None:
    assert AsyncZMQSocketChannel.get_msg is get_msg_in_slices  # installed by conftest


def test_a_message_sent_later_arrives_before_the_deadline() -> None:
    async def scenario() -> tuple[dict, float]:
        channel, sender, session = await _pair()

        async def send_later() -> None:
            await asyncio.sleep(3 * SLICE)  # several slices pass empty first
            session.send(sender, "execute_reply", {"status": "ok"})

        start = time.monotonic()
        task = asyncio.ensure_future(send_later())
        msg = await channel.get_msg(timeout=30)
        await task
        return msg, time.monotonic() - start

    msg, waited = asyncio.run(scenario())
    assert msg["msg_type"] == "execute_reply" and msg["content"] == {"status": "ok"}
    assert 3 * SLICE <= waited < 3 * SLICE + 2.0


def test_no_message_raises_empty_once_the_timeout_has_passed() -> None:
    async def scenario() -> float:
        channel, _, _ = await _pair()
        start = time.monotonic()
        with pytest.raises(Empty):
            await channel.get_msg(timeout=2.2 * SLICE)  # not a multiple of the slice
        return time.monotonic() - start

    waited = asyncio.run(scenario())
    # ZeroMQ polls in whole milliseconds (jupyter_client truncates), hence the 10 ms; above:
    # at most one slice late, plus what a busy machine adds
    assert 2.2 * SLICE - 0.01 <= waited < 2.2 * SLICE + 2.0
