"""Types of the C extension streams/core/_record.c (the lead record codec)."""

from typing import Any

def configure(record: type, state: type, alert: type, loads: Any, dumps: Any, error: type,
              tiers: tuple[str | None, ...], tier_code: dict[str | None, int],
              per_half_life: int, channels: int, misc: int, ts: int, t_last: int,
              t_converted: int, t_disqualified: int) -> None: ...
def decode(raw: bytes) -> Any: ...
def encode(rec: Any) -> bytes: ...
