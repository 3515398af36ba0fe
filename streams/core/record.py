"""What the worker keeps per table key: the model's lead state plus what scoring remembers.

One value per key, so each lead costs one RocksDB write and one changelog message per batch.
Layout: 4-byte big-endian length of a small orjson header, the header, then the model's own
state bytes (``models.state.state_to_bytes``), unchanged, so the model keeps control of its
format and versioning.

Table keys are prefixed: ``L:<lead_id>`` for leads, ``A:<anonymous_id>`` for visitors not yet
identified, so an anonymous id can never collide with a lead id.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import orjson

from models.state import LeadState, T, state_from_bytes, state_to_bytes
from streams.core.alerting import AlertState

LEAD, ANON = "L:", "A:"
_LEN = struct.Struct(">I")


def lead_key(lead_id: str) -> str:
    return LEAD + lead_id


def anon_key(anonymous_id: str) -> str:
    return ANON + anonymous_id


@dataclass
class LeadRecord:
    state: LeadState
    score: int | None = None
    probability: float | None = None
    tier: str | None = None
    scored_at: float | None = None  # event time the last score was computed at
    alert: AlertState = field(default_factory=AlertState)

    def to_bytes(self) -> bytes:
        last = self.state.ts[T["last"]]
        header = orjson.dumps({"s": self.score, "p": self.probability, "t": self.tier,
                               "at": self.scored_at, "a": self.alert.to_dict(),
                               "le": None if math.isnan(last) else last,
                               "closed": not math.isnan(self.state.closed_at)})
        return _LEN.pack(len(header)) + header + state_to_bytes(self.state)

    @staticmethod
    def peek(raw: bytes) -> dict:
        """The header alone (score, scored_at "at", last event "le", "closed"): what the idle
        scan needs, without decoding the model state."""
        (n,) = _LEN.unpack_from(raw)
        return dict(orjson.loads(raw[4:4 + n]))

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeadRecord:
        (n,) = _LEN.unpack_from(raw)
        header = orjson.loads(raw[4:4 + n])
        return cls(state=state_from_bytes(raw[4 + n:]), score=header["s"],
                   probability=header["p"], tier=header["t"], scored_at=header["at"],
                   alert=AlertState.from_dict(header["a"]))
