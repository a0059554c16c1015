"""A counterpart's HTTP endpoint on 127.0.0.1 that records each request and answers 200: where a channel's
way back sends (tests/contract). Plain asyncio, so what arrives is exactly what went over the socket."""

from __future__ import annotations

import asyncio
from types import TracebackType


class Counterpart:
    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> Counterpart:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/send"
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")[1:]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((body, headers))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed its connection
        finally:
            writer.close()
