"""The router's HTTP API for people: why a complaint went where it did, and re-assignment.

Operators (PPID secretariat) may move any complaint to any unit. A unit may only hand back a
complaint currently assigned to it as "not our authority" (LAPOR!'s *Bukan Wewenang*), which
sends it to the triage unit. The rule set is never edited here.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field, SecretStr

from services.router.assignment import ReassignmentRefused, build_reassignment
from services.router.live_ruleset import LiveRuleSet
from services.router.repository import NotFound, RouterRepository
from services.router.working_days import WorkingCalendar
from shared.contracts import ComplaintAssigned, normalise_tracking_code


@dataclass(frozen=True)
class Principal:
    kind: str  # "operator" or "unit"
    name: str  # operator name or unit code

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class Reassignment(BaseModel):
    unit: str = Field(description="code of the unit in the units registry")
    reason: str = Field(min_length=5, max_length=1000)


class HandBack(BaseModel):
    reason: str = Field(min_length=5, max_length=1000, description="why this is not the unit's authority")


def create_api(
    *,
    repository: Callable[[], RouterRepository],
    live: LiveRuleSet,
    publish: Callable[[ComplaintAssigned], Awaitable[bool]],
    operator_tokens: dict[str, SecretStr],
    unit_tokens: dict[str, SecretStr],
    calendar: WorkingCalendar,
) -> FastAPI:
    api = FastAPI(title="Aduan router API", description=__doc__, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    credentials = [(Principal("operator", n), t.get_secret_value()) for n, t in operator_tokens.items()]
    credentials += [(Principal("unit", c), t.get_secret_value()) for c, t in unit_tokens.items()]

    def principal(authorization: str = Header(default="")) -> Principal:
        token = authorization.removeprefix("Bearer ").strip()
        found = None
        for who, expected in credentials:  # every comparison runs: no timing hint of which matched
            if expected and secrets.compare_digest(token.encode(), expected.encode()):
                found = who
        if found is None:
            raise HTTPException(401, "missing or unknown bearer token", headers={"WWW-Authenticate": "Bearer"})
        return found

    def operator(who: Principal = Depends(principal)) -> Principal:
        if who.kind != "operator":
            raise HTTPException(403, "only operators may do this")
        return who

    async def store_and_publish(ref: str, decide: Callable[[ComplaintAssigned], ComplaintAssigned]) -> dict:
        try:
            assigned = await repository().reassign(normalise_tracking_code(ref) or ref, decide)
        except NotFound:
            raise HTTPException(404, "no such complaint") from None
        except ReassignmentRefused as error:
            raise HTTPException(409, str(error)) from None
        # Stored first: if Kafka is down now, the outbox publishes it later.
        published = await publish(assigned)
        return {"assignment_id": assigned.assignment_id, "sequence": assigned.sequence,
                "unit": assigned.unit.code, "published": published}

    @api.get("/api/v1/complaints/{ref}/assignments")
    async def assignment_history(ref: str, _: Principal = Depends(operator)) -> list[dict]:
        """Every assignment of a complaint (by id or tracking code) with the rule and terms that made it."""
        history = await repository().history(normalise_tracking_code(ref) or ref)
        if not history:
            raise HTTPException(404, "no such complaint")
        return history

    @api.post("/api/v1/complaints/{ref}/reassign", status_code=202)
    async def reassign(ref: str, body: Reassignment, who: Principal = Depends(operator)) -> dict:
        ruleset = live.current
        if ruleset.registry.get(body.unit) is None:
            raise HTTPException(422, f"unknown unit {body.unit!r}")
        return await store_and_publish(ref, lambda current: build_reassignment(
            current, ruleset.unit(body.unit), ruleset_version=ruleset.version,
            deadlines=ruleset.registry.deadlines_for(body.unit), assigned_by=str(who), reason=body.reason,
            calendar=calendar))

    @api.post("/api/v1/complaints/{ref}/not-our-authority", status_code=202)
    async def not_our_authority(ref: str, body: HandBack, who: Principal = Depends(principal)) -> dict:
        ruleset = live.current
        triage = ruleset.unit(ruleset.registry.fallback)

        def decide(current: ComplaintAssigned) -> ComplaintAssigned:
            if who.kind == "unit" and current.unit.code != who.name:
                # Same answer as for a complaint that does not exist: no hint about others' complaints.
                raise NotFound(ref)
            return build_reassignment(current, triage, ruleset_version=ruleset.version,
                                      deadlines=ruleset.registry.deadlines_for(triage.code), assigned_by=str(who),
                                      reason=f"Bukan wewenang: {body.reason}", calendar=calendar)

        return await store_and_publish(ref, decide)

    return api
