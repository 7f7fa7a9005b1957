"""Run a service app in-process for API tests: its lifespan (relay, consumers) included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def running_app(app: FastAPI, asgi: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """`app` started, with a client calling it (or `asgi`, an ASGI callable wrapping it)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=asgi or app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def every_page(client: httpx.AsyncClient, path: str, *, headers: dict[str, str] | None = None,
                     **params: Any) -> list[Any]:
    """The items of every page of a cursor-paged list (docs/API.md), following `next_cursor`
    to the end; each answer must be 200."""
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get(path, params=query, headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items
