"""`make new-channel` produces a channel that passes the channel contract suite as it is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
REPO = Path(__file__).resolve().parents[2]


def test_scaffolded_channel_passes_the_contract_suite(infra):
    name = f"scaffold{uuid.uuid4().hex[:6]}"
    target = REPO / "services" / "intake" / name
    try:
        made = subprocess.run([sys.executable, "-m", "shared.scaffold", name], cwd=REPO,
                              capture_output=True, text=True, check=False)
        assert made.returncode == 0, made.stderr
        assert sorted(p.name for p in target.iterdir()) == ["__init__.py", "__main__.py", "app.py", "contract.py",
                                                            "way_back.py"]
        env = {**os.environ, "ADUAN_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "ADUAN_DB_URL": infra.database_url}
        run = subprocess.run([sys.executable, "-m", "pytest", "tests/contract/test_channels.py", "-q", "-k", name,
                              "-p", "no:cacheprovider"], cwd=REPO, env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout[-3000:]
        summary = run.stdout.strip().splitlines()[-1]
        assert "passed" in summary and "failed" not in summary and "skipped" not in summary, summary
        again = subprocess.run([sys.executable, "-m", "shared.scaffold", name], cwd=REPO,
                               capture_output=True, text=True, check=False)
        assert again.returncode == 2 and "exists already" in again.stderr
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_scaffold_refuses_a_bad_name():
    made = subprocess.run([sys.executable, "-m", "shared.scaffold", "Telegram Bot"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert made.returncode == 2 and "channel name" in made.stderr
