"""Signing in to the unit inbox and the PPID back-office as a browser does (services/router/http/)."""

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


async def operator_sign_in(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    """The PPID back-office's sign-in (services/router/http/back_office.py), as a browser does it."""
    form = await client.get("/ppid/masuk")
    signin = re.search(r'name="signin" value="([^"]+)"', form.text).group(1)
    return await client.post("/ppid/masuk", data={"name": name, "password": password, "signin": signin})
