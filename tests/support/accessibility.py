"""WCAG 2 A and AA checks of a page in chromium with axe-core (deploy/local/install-axe.sh, from npm)."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / ".local" / "axe" / "axe.min.js"


def violations(driver) -> list[str]:
    """axe-core's WCAG 2.0/2.1 A and AA violations of the page the browser shows, one line each."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: `make browser` (run by `make test`) fetches axe-core")
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' ' +"
        " v.nodes.map(n => n.target.join(' ')).join(', '))), e => done(['axe failed: ' + e]));")
    return list(result)
