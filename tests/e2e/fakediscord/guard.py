"""The network guard: while a FakeDiscord runs, any socket connection or name lookup that is not loopback
raises :class:`ExternalNetworkBlocked`."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Callable, Optional, Tuple


class ExternalNetworkBlocked(ConnectionRefusedError):
    """Raised when code under test tries to reach anything but loopback."""



def _is_loopback_host(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host)
    if host in ("localhost", "localhost.", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class _NetworkGuard:
    def __init__(self, on_block: Callable[[str], None]) -> None:
        self._on_block = on_block
        self._saved: Optional[Tuple[Any, Any, Any]] = None

    def install(self) -> None:
        orig_connect = socket.socket.connect
        orig_connect_ex = socket.socket.connect_ex
        orig_getaddrinfo = socket.getaddrinfo
        on_block = self._on_block

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host = address[0] if isinstance(address, tuple) else address
                if not _is_loopback_host(host):
                    on_block(f"connect {address!r}")
                    raise ExternalNetworkBlocked(f"fakediscord: blocked connection to non-loopback address {address!r}")

        def connect(sock, address):  # type: ignore[no-untyped-def]
            check(sock, address)
            return orig_connect(sock, address)

        def connect_ex(sock, address):  # type: ignore[no-untyped-def]
            check(sock, address)
            return orig_connect_ex(sock, address)

        def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not _is_loopback_host(host):
                on_block(f"getaddrinfo {host!r}")
                raise ExternalNetworkBlocked(f"fakediscord: blocked name lookup of {host!r}")
            return orig_getaddrinfo(host, *args, **kwargs)

        self._saved = (orig_connect, orig_connect_ex, orig_getaddrinfo)
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

    def uninstall(self) -> None:
        if self._saved is None:
            return
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = self._saved  # type: ignore[method-assign]
        self._saved = None

