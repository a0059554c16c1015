"""The committed AsyncAPI and OpenAPI documents (docs/api/) are what the code generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_committed_api_documents_match_the_code():
    result = subprocess.run([sys.executable, "-m", "services.api_docs", "--check"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((REPO / "docs" / "api").glob("*.asyncapi.json"))) == 6
    assert len(list((REPO / "docs" / "api").glob("*.openapi.json"))) == 6  # with the delivery records
