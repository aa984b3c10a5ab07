"""A cap on request bodies (rule 12): no command needs more than a few kilobytes."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_body_max_bytes = 64 * 1024
# File uploads (roster and monthly-data imports) may be larger; the importers cap them again.
upload_body_max_bytes = 50 * 1024 * 1024
UPLOAD_PATHS = ("/api/mrv/roster/imports", "/api/mrv/records/imports")


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not they declare a length."""

    def __init__(self, app: ASGIApp, max_bytes: int = request_body_max_bytes) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length up front, then count what actually arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = upload_body_max_bytes if scope.get("path", "") in UPLOAD_PATHS else self.max_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged, so the
                    # app's own handler answers it in the API's error shape.
                    raise HTTPException(413, self._message())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as error:
            # Raised while reading outside a route (nothing answered it); if a response already
            # started there is nothing left to tell the client.
            if error.status_code != 413 or started:
                raise
            await self._refuse(send)

    def _message(self) -> str:
        return f"request bodies are limited to {self.max_bytes} bytes"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"ok": False, "code": "request_too_large", "message": self._message()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
