"""One HTTP(S) download bounded in total time and in rate, not only per read.

A socket timeout bounds each read alone, so a mirror that trickles a byte every few seconds
(in its body or in its headers) would never time out. Here a watchdog thread counts the bytes
that arrive; once the file's deadline passes, or fewer than ``min_rate`` bytes per second
arrived over the last ``rate_window`` seconds, it shuts the connection's socket down, which
wakes the blocked read at once, and the download raises :class:`DownloadTooSlowError` (a
:class:`TimeoutError`, so :func:`~oneshot_steel.data.fetch.fetch_neu` moves on to the next
mirror). Name resolution happens before there is a socket, so a resolver that never answers
cannot be cut that way: it runs in a helper thread that the download stops waiting for after
``timeout`` seconds (the connect's own bound), with the same error.
"""

from __future__ import annotations

import http.client
import math
import socket
import threading
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .. import __version__

__all__ = ["DownloadTooSlowError", "Limits", "download"]


class DownloadTooSlowError(TimeoutError):
    """A mirror past the deadline for one file, or sending under the minimum rate."""


@dataclass(frozen=True)
class Limits:
    """How long a download may take. The defaults let a 31 MB archive through a slow link
    (an hour at 9 KB/s) while a stalled or trickling mirror is given up within a minute."""

    timeout: float = 60.0  #: seconds for one connect or one read
    deadline: float = 3600.0  #: seconds for the whole file, headers included
    min_rate: float = 4096.0  #: bytes per second, averaged over each rate_window ...
    rate_window: float = 60.0  #: ... of this many seconds

    def __post_init__(self) -> None:
        for name in ("timeout", "deadline", "rate_window"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds; got {value!r}")
        rate = self.min_rate
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate >= 0):
            raise ValueError(f"min_rate must be a number of bytes per second >= 0; got {rate!r}")


def _size(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n:.0f} bytes"


class _Watchdog:
    """Counts the bytes of one download and cuts its connections when it is too slow."""

    def __init__(self, url: str, limits: Limits) -> None:
        self.url, self.limits = url, limits
        self.received = 0  # written by the downloading thread only
        self.reason: str | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="download-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def connection(self, base: type[http.client.HTTPConnection]) -> type:
        """``base`` with its socket handed to this watchdog as soon as it is connected."""
        watchdog = self

        class Watched(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._create_connection = watchdog.create_connection  # bounded name lookup

            def connect(self) -> None:
                super().connect()
                watchdog._add(self.sock)

        return Watched

    def create_connection(
        self,
        address: tuple[str, int],
        timeout: float | None = None,
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        """:func:`socket.create_connection`, with the name lookup bounded by ``timeout``."""
        host, port = address
        error: OSError | None = None
        for *_, sockaddr in self._resolve(host, port):
            try:  # each address the name has, in the resolver's order, as create_connection does
                return socket.create_connection((sockaddr[0], port), timeout, source_address)
            except OSError as err:
                error = err
        raise error if error is not None else OSError(f"no address found for {host}")

    def _resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        found: dict[str, Any] = {}

        def lookup() -> None:
            try:
                found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as err:
                found["error"] = err

        worker = threading.Thread(target=lookup, name="download-resolver", daemon=True)
        worker.start()  # a daemon: a resolver that never answers cannot keep Python alive
        wait = min(self.limits.timeout, self.limits.deadline)
        worker.join(wait)
        if worker.is_alive():
            self.reason = f"was not found: looking up the name {host} took over {wait:g} s (DNS)"
            raise TimeoutError(f"name lookup of {host} timed out")
        if "error" in found:
            raise found["error"]
        return found["addresses"]

    def _add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.reason is not None:
                self._cut(sock)

    @staticmethod
    def _cut(sock: socket.socket) -> None:
        # The plain socket's shutdown, also for TLS: it wakes a read blocked in another thread.
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _fire(self, reason: str) -> None:
        with self._lock:
            self.reason = reason
            for sock in self._sockets:
                self._cut(sock)

    def _watch(self) -> None:
        lim = self.limits
        start = window_start = time.monotonic()
        window_bytes = 0
        tick = min(1.0, lim.rate_window / 4, lim.deadline / 4)
        while not self._stop.wait(tick):
            now = time.monotonic()
            if now - start >= lim.deadline:
                self._fire(
                    f"did not finish within the deadline of {lim.deadline:g} s for one file "
                    f"({_size(self.received)} received)"
                )
                return
            if now - window_start >= lim.rate_window:
                got = self.received - window_bytes
                if got < lim.min_rate * (now - window_start):
                    self._fire(
                        f"sent only {_size(got)} in the last {now - window_start:.3g} s, under "
                        f"the minimum of {_size(lim.min_rate)}/s"
                    )
                    return
                window_start, window_bytes = now, self.received

    def check(self, cause: BaseException | None = None) -> None:
        """Raise :class:`DownloadTooSlowError` when the watchdog cut the download."""
        if self.reason is not None:
            raise DownloadTooSlowError(
                f"The mirror {self.url} {self.reason}: it is stalled or too slow. Try again "
                "later, use another mirror, or get the data by hand and run "
                "`python -m oneshot_steel fetch-data --from PATH`."
            ) from cause


class _Watched:
    """A urllib handler whose connections a :class:`_Watchdog` can cut."""

    watchdog: _Watchdog

    def do_open(self, http_class: type, req: urllib.request.Request, **kwargs: Any) -> Any:
        return super().do_open(self.watchdog.connection(http_class), req, **kwargs)  # type: ignore[misc]


class _WatchedHTTP(_Watched, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPS(_Watched, urllib.request.HTTPSHandler):
    pass


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    handlers: list[Any] = [_WatchedHTTP(), _WatchedHTTPS()]
    for handler in handlers:
        handler.watchdog = watchdog
    return urllib.request.build_opener(*handlers)  # proxies and redirects as urlopen has them


def download(url: str, target: Path, *, limits: Limits, progress: bool) -> None:
    """Stream ``url`` to ``target`` with a progress bar; a short body or a too slow mirror
    (:class:`DownloadTooSlowError`) raises."""
    request = urllib.request.Request(url, headers={"User-Agent": f"oneshot-steel/{__version__}"})
    with _Watchdog(url, limits) as watchdog:
        try:
            with (
                _opener(watchdog).open(request, timeout=limits.timeout) as response,
                target.open("wb") as out,
            ):
                total = int(response.headers.get("Content-Length") or 0) or None
                name = url.rsplit("/", 1)[-1]
                bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress)
                with bar:
                    while chunk := response.read1(1 << 20):  # read1: returns what has arrived
                        out.write(chunk)
                        watchdog.received += len(chunk)
                        bar.update(len(chunk))
        except (OSError, ValueError, http.client.HTTPException) as err:
            watchdog.check(err)
            raise
        watchdog.check()
    if total is not None and watchdog.received != total:
        raise http.client.IncompleteRead(b"", total - watchdog.received)
