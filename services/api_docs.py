"""The services' API documents, generated from the code: `python -m services.api_docs [--check]`.

AsyncAPI (FastStream, from the subscribers, publishers and pydantic models) for every service
that uses Kafka, and OpenAPI (FastAPI) for every HTTP API, written to docs/api/. With --check
nothing is written: it fails when the committed documents differ from the code (CI runs it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from faststream.specification import AsyncAPI

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"
VERSION = "0.1.0"


def _placeholder_secrets() -> None:
    """The services refuse to be built without their secrets; the documents need none of them."""
    from shared.contact_seal import PRIVATE_KEYS_ENV, PUBLIC_KEY_ENV, new_key_pair

    public, private = new_key_pair()
    placeholders = {PUBLIC_KEY_ENV: public, PRIVATE_KEYS_ENV: private,
                    "ADUAN_NOTIFIER_KANNEL_PASSWORD": "api-docs", "ADUAN_NOTIFIER_WHATSAPP_TOKEN": "api-docs"}
    for name, value in placeholders.items():
        os.environ.setdefault(name, value)
    # The services log in to Kafka (SASL/SCRAM): the documents say so, whatever the caller's environment.
    os.environ.update({"ADUAN_KAFKA_USERNAME": "api-docs", "ADUAN_KAFKA_PASSWORD": "api-docs"})


def documents() -> dict[str, dict]:
    _placeholder_secrets()
    from services.intake.sms.app import build_app as sms
    from services.intake.web.app import build_app as web
    from services.intake.whatsapp.app import build_app as whatsapp
    from services.lapor_sync.app import build_app as lapor_sync
    from services.notifier.app import build_app as notifier
    from services.router.app import build_app as router

    docs: dict[str, dict] = {}
    for name, build in (("intake-web", web), ("intake-sms", sms), ("intake-whatsapp", whatsapp)):
        app = build()
        docs[f"{name}.openapi.json"] = app.openapi()
        docs[f"{name}.asyncapi.json"] = _asyncapi(app.state.kit.broker, name)
    router_app = router()
    docs["router.asyncapi.json"] = _asyncapi(router_app.stream_app.brokers[0], "router")
    docs["router.openapi.json"] = router_app.api.openapi()
    for name, build in (("notifier", notifier), ("lapor-sync", lapor_sync)):
        app = build()
        docs[f"{name}.asyncapi.json"] = _asyncapi(app.stream_app.brokers[0], name)
        docs[f"{name}.openapi.json"] = app.api.openapi()
    return docs


def _asyncapi(broker, name: str) -> dict:
    return json.loads(AsyncAPI(broker, title=f"Aduan {name}", version=VERSION).to_specification().to_json())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/api/, write nothing")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # building the apps logs; the documents are the output
    stale = []
    for filename, document in documents().items():
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        path = DOCS / filename
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(filename)
        else:
            DOCS.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote docs/api/{filename}")
    if stale:
        print(f"out of date (run python -m services.api_docs): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
