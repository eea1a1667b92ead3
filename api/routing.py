"""The route class of every router: JSON bodies are checked for text no layer below can handle.

FastAPI parses a JSON body with `Request.json()`; this route hands its endpoint a request whose
`json()` also rejects lone surrogates (`"\\ud800"` is valid JSON but not a character) with a 422 in
the API's error shape, before any model sees the text. It is FastAPI's documented extension point
(a custom `APIRoute` and `Request`), so validation, OpenAPI and dependencies work as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from yakuba.api.limits import json_loads


class CheckedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json_loads(await self.body())
        return self._json


class YakubaRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked_handler(request: Request) -> Response:
            return await handler(CheckedRequest(request.scope, request.receive))

        return checked_handler
