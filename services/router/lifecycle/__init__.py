"""A complaint's life after routing, pure: its status transitions (`transitions`), its working-day
deadlines (`working_days`) and which escalation is due (`escalation`). No I/O and no clock: the day
or the moment is always passed in."""

from services.router.lifecycle.transitions import (
    CITIZEN,
    FINISHED,
    OPEN,
    PRODUCER,
    STATUS_WORDS,
    SYSTEM,
    Effects,
    TransitionRefused,
    UnitAction,
    can_hand_back,
    can_take_reply,
    close_due_on,
    effects_of,
    escalated,
    next_status,
    status_changed,
)
from shared.statuses import ASSIGNED, REPLY_ALLOWED_FROM

__all__ = ["ASSIGNED", "CITIZEN", "FINISHED", "OPEN", "PRODUCER", "REPLY_ALLOWED_FROM", "STATUS_WORDS", "SYSTEM",
           "Effects", "TransitionRefused", "UnitAction", "can_hand_back", "can_take_reply", "close_due_on",
           "effects_of", "escalated", "next_status", "status_changed"]
