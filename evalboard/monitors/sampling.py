"""Deterministic sampling by call id: a rerun (or a second worker) samples the same calls.

A call's sample key is a 64-bit mix (splitmix64) of the monitor id and the call id, as a share
in [0, 1); a call is sampled when its key is below the rate. Raising a monitor's rate keeps
every call it sampled before.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1


def sample_key(monitor_id: int, call_id: int) -> float:
    """A uniform-looking share in [0, 1), fixed for (monitor, call)."""
    z = (call_id * 0x9E3779B97F4A7C15 + monitor_id * 0xD1B54A32D192ED03) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return z / (1 << 64)


def is_sampled(monitor_id: int, call_id: int, rate: float) -> bool:
    """Whether the monitor checks this call at this sampling rate."""
    if rate >= 1:
        return True
    return rate > 0 and sample_key(monitor_id, call_id) < rate
