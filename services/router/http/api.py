"""The router's HTTP API for people and the units' systems: why a complaint went where it did,
re-assignment, and the units' steps (acknowledge, respond, done, not our authority).

Operators (PPID secretariat) may move any complaint to any unit. A unit acts only on a
complaint currently assigned to it; any other complaint answers 404, as if it did not exist.
"Not our authority" (LAPOR!'s *Bukan Wewenang*) sends it to the triage unit. The rule set is
never edited here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from services.router.application.ports import NotFound
from services.router.dependencies import RouterDependencies, dependencies
from services.router.lifecycle import TransitionRefused, UnitAction
from services.router.routing.assignment import ReassignmentRefused
from shared.contracts import MAX_MESSAGE, ComplaintAssigned, normalise_tracking_code


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


class Step(BaseModel):
    message: str | None = Field(default=None, min_length=5, max_length=MAX_MESSAGE,
                                description="for the citizen: required to respond, optional when done")


router = APIRouter()


def create_api() -> FastAPI:
    """The router's FastAPI app: the JSON API (the unit inbox is added by services.router.http.inbox)."""
    api = FastAPI(title="Aduan router API", description=__doc__, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    api.include_router(router)
    return api


def principal(authorization: str = Header(default=""), deps: RouterDependencies = Depends(dependencies),
              ) -> Principal:
    settings = deps.settings
    credentials = [(Principal("operator", n), t.get_secret_value()) for n, t in settings.operator_tokens.items()]
    credentials += [(Principal("unit", c), t.get_secret_value()) for c, t in settings.unit_tokens.items()]
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


def own_unit(who: Principal) -> str | None:
    return who.name if who.kind == "unit" else None  # operators act on any complaint


@router.get("/api/v1/complaints/{ref}/assignments")
async def assignment_history(ref: str, _: Principal = Depends(operator),
                             deps: RouterDependencies = Depends(dependencies)) -> list[dict]:
    """Every assignment of a complaint (by id or tracking code) with the rule and terms that made it."""
    history = await deps.repository.history(normalise_tracking_code(ref) or ref)
    if not history:
        raise HTTPException(404, "no such complaint")
    return history


@router.post("/api/v1/complaints/{ref}/reassign", status_code=202)
async def reassign(ref: str, body: Reassignment, who: Principal = Depends(operator),
                   deps: RouterDependencies = Depends(dependencies)) -> dict:
    if deps.live.current.registry.get(body.unit) is None:
        raise HTTPException(422, f"unknown unit {body.unit!r}")
    with refusals():
        assigned, published = await deps.casework.reassign(normalise_tracking_code(ref) or ref, body.unit,
                                                           actor=str(who), reason=body.reason)
    return _assignment_answer(assigned, published)


@router.post("/api/v1/complaints/{ref}/not-our-authority", status_code=202)
async def not_our_authority(ref: str, body: HandBack, who: Principal = Depends(principal),
                            deps: RouterDependencies = Depends(dependencies)) -> dict:
    with refusals():
        assigned, published = await deps.casework.hand_back(normalise_tracking_code(ref) or ref, actor=str(who),
                                                            unit_code=own_unit(who), reason=body.reason)
    return _assignment_answer(assigned, published)


@router.post("/api/v1/complaints/{ref}/{action}", status_code=202)
async def step(ref: str, action: UnitAction, body: Step, who: Principal = Depends(principal),
               deps: RouterDependencies = Depends(dependencies)) -> dict:
    """acknowledge, respond (with the message for the citizen) or done: by the unit that has the complaint."""
    if action is UnitAction.RESPOND and not body.message:
        raise HTTPException(422, "a response needs a message for the citizen")
    with refusals():
        change = await deps.casework.act(normalise_tracking_code(ref) or ref, action, actor=str(who),
                                         unit_code=own_unit(who), message=body.message)
    if change is None:
        return {"changed": False}
    return {"changed": True, "status": change.status, "sequence": change.sequence,
            "close_due": change.close_due}


@contextmanager
def refusals() -> Iterator[None]:
    """The answers every step shares: 404 for a complaint that is not there (or not the caller's), 409
    for a step that does not fit where it stands."""
    try:
        yield
    except NotFound:
        raise HTTPException(404, "no such complaint") from None
    except (ReassignmentRefused, TransitionRefused) as error:
        raise HTTPException(409, str(error)) from None


def _assignment_answer(assigned: ComplaintAssigned, published: bool) -> dict:
    """`published: false`: stored, and the outbox publishes it once Kafka takes it."""
    return {"assignment_id": assigned.assignment_id, "sequence": assigned.sequence, "unit": assigned.unit.code,
            "published": published}
