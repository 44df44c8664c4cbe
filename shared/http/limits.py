"""Request body size limits, enforced before the body is read into memory (413 otherwise)."""

from collections.abc import Mapping

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import problem_response


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length up front and counts streamed bytes."""

    def __init__(
        self, app: ASGIApp, default_limit: int, limits: Mapping[str, int] | None = None
    ) -> None:
        self._app = app
        self._default = default_limit
        self._limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limits.get(scope["path"], self._default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counting_receive, tracking_send)
        except _TooLargeError:
            if not started:
                await self._too_large(limit)(scope, receive, send)

    @staticmethod
    def _too_large(limit: int) -> ASGIApp:
        return problem_response(
            413, "Request body too large", f"At most {limit} bytes are accepted here."
        )


class _TooLargeError(StarletteHTTPException):
    """Raised from inside the body stream; FastAPI passes HTTP exceptions through as they are,
    and the problem handlers render it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"At most {limit} bytes are accepted here.")
