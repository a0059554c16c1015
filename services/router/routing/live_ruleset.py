"""The rule set in force, reloaded when its files change or on SIGHUP, without a restart.

A rule set that fails validation never replaces the one in force: the error is logged and
counted, and routing goes on with the previous version. On Kubernetes the files come from
a ConfigMap, whose updates appear in the mounted volume within a minute; see deploy/.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import structlog
from prometheus_client import Counter, Info

from services.router.routing.rules import RuleSet, RuleSetError, load_ruleset

log = structlog.get_logger(__name__)

RULESET = Info("aduan_ruleset", "The rule set in force")
RELOAD_FAILURES = Counter("aduan_ruleset_reload_failures_total", "Rule set changes refused as invalid")


class LiveRuleSet:
    def __init__(self, rules_file: Path, units_file: Path) -> None:
        self.rules_file, self.units_file = Path(rules_file), Path(units_file)
        self._fingerprint = self._read_fingerprint()
        self.current: RuleSet = load_ruleset(self.rules_file, self.units_file)  # invalid at start: refuse to start
        RULESET.info({"version": self.current.version, "rules": str(len(self.current.rules))})

    def _read_fingerprint(self) -> str:
        # Content, not mtime: a ConfigMap update swaps a symlink and may keep timestamps.
        return hashlib.sha256(self.rules_file.read_bytes() + b"\0" + self.units_file.read_bytes()).hexdigest()

    def reload(self) -> bool:
        """Load the files again; True when a new version is now in force."""
        try:
            fresh = load_ruleset(self.rules_file, self.units_file)
        except (RuleSetError, OSError) as error:
            RELOAD_FAILURES.inc()
            log.error("ruleset_rejected", error=str(error), version_in_force=self.current.version)
            return False
        if fresh.version == self.current.version:
            return False
        previous, self.current = self.current, fresh
        RULESET.info({"version": fresh.version, "rules": str(len(fresh.rules))})
        log.info("ruleset_reloaded", version=fresh.version, previous_version=previous.version,
                 rules=len(fresh.rules))
        return True

    def reload_if_changed(self) -> bool:
        try:
            fingerprint = self._read_fingerprint()
        except OSError as error:  # a file briefly missing during a ConfigMap swap
            log.warning("ruleset_unreadable", error=str(error))
            return False
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        return self.reload()

    async def watch(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            self.reload_if_changed()
