"""Signing in to the unit inbox as a browser does (services/router/http/inbox.py)."""

from __future__ import annotations

import re

import httpx


async def sign_in(client: httpx.AsyncClient, unit: str, password: str) -> httpx.Response:
    """The sign-in page first: its form carries the pre-session token the POST must return."""
    form = await client.get("/unit/masuk")
    signin = re.search(r'name="signin" value="([^"]+)"', form.text).group(1)
    return await client.post("/unit/masuk", data={"unit": unit, "token": password, "signin": signin})


async def open_link(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """An e-mail link: its page, then its button (the link opens the complaint once)."""
    page = await client.get(link)
    token = re.search(r'name="t" value="([^"]+)"', page.text)
    if token is None:
        return page  # refused: the page says why
    return await client.post(link.split("?")[0], data={"t": token.group(1)})
