"""Scaffold a new intake channel: `python -m shared.scaffold NAME [--port PORT]` (or `make new-channel name=NAME`).

Writes services/intake/NAME/ with a working channel (a signed JSON webhook) and its contract,
so it passes tests/contract at once; then adapt app.py to the real counterpart's protocol.
"""
