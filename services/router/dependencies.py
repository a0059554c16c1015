"""What the router's handlers need, built once at start-up (services/router/app.py) and reached through
FastStream's context (`Context(DEPENDENCIES)`) and a FastAPI dependency (`dependencies`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from services.router.adapters.postgres import RouterRepository
from services.router.adapters.publisher import EventPublisher
from services.router.application.casework import Casework
from services.router.http.delivery_records import DeliveryRecords
from services.router.http.inbox_sessions import InboxSessions
from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.live_ruleset import LiveRuleSet
from services.router.settings import RouterSettings
from shared.evidence import EvidenceStore

DEPENDENCIES = "router_dependencies"  # the key in FastStream's context and in the FastAPI app's state


@dataclass(frozen=True)
class RouterDependencies:
    settings: RouterSettings
    live: LiveRuleSet
    calendar: WorkingCalendar
    clock: Callable[[], datetime]
    repository: RouterRepository
    publisher: EventPublisher
    casework: Casework
    sessions: InboxSessions  # the unit inbox's
    operator_sessions: InboxSessions  # the back-office's
    evidence: EvidenceStore
    delivery_records: DeliveryRecords


def dependencies(request: Request) -> RouterDependencies:
    """FastAPI: the router's dependencies, once the service has started (its database pool is there)."""
    found: RouterDependencies = getattr(request.app.state, DEPENDENCIES)
    return found
