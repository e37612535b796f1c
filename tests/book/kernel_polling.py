"""A workaround for a lost wake-up in jupyter_client's asyncio channels (nbclient issue #312).

nbclient (papermill's executor) waits for a cell's ``execute_reply`` with one
``await shell_channel.get_msg(timeout=T)``, which is one ``zmq.asyncio`` poll. Now and then
the poll misses the reply: the ZeroMQ socket's file descriptor is edge-triggered, and a
notification consumed while the poll is being set up is not repeated. pyzmq still checks the
socket once more when the timeout ends, so the cell does not fail: it *finishes T seconds
late*, with complete outputs and no error. Cells that open ipywidgets (many comm messages
around the reply) hit it most. Measured here on 2 busy cores, a two-cell notebook with
chapter 3's slider cell executed by papermill, two runs at a time: 4 of 70 executions stalled
for exactly the 20 s timeout. In a two-worker ``make test`` it cost 600 s (the smoke
runs' timeout) in chapter 3.

:func:`install` makes ``get_msg`` poll in slices of :data:`SLICE` seconds until the same
deadline: each slice ends with that final check, so a missed reply costs at most one slice.
With it, 0 of 120 executions of the same notebook took longer than 1.03 s. The timeout keeps
its meaning (``queue.Empty`` once the deadline has passed). It patches only the process that
runs papermill (the tests'); nbval's blocking client polls synchronously and is not affected.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from jupyter_client.channels import AsyncZMQSocketChannel

SLICE = 0.5  #: seconds; the most a missed wake-up can cost

_ORIGINAL = AsyncZMQSocketChannel.get_msg


async def get_msg_in_slices(
    self: AsyncZMQSocketChannel, timeout: float | None = None
) -> dict[str, Any]:
    """``get_msg`` with the same contract, waiting in polls of at most :data:`SLICE` s."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        step = SLICE if left is None else min(SLICE, left)
        try:
            return await _ORIGINAL(self, step)
        except Empty:
            if left is not None and left <= SLICE:
                raise


def install() -> None:
    """Patch :class:`AsyncZMQSocketChannel` for this process (idempotent)."""
    AsyncZMQSocketChannel.get_msg = get_msg_in_slices  # type: ignore[method-assign]
