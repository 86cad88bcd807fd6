"""TOTP codes (RFC 6238): the time step a code belongs to, allowing one step of clock drift."""

from __future__ import annotations

from datetime import datetime

import pyotp
from pyotp import utils

DRIFT_STEPS = 1


def matching_step(totp: pyotp.TOTP, code: str, now: datetime) -> int | None:
    """The newest time step within ``DRIFT_STEPS`` of ``now`` whose code is ``code``, or None.

    The step, not a yes/no, so that the caller can accept each step's code once.
    """
    current = totp.timecode(now)
    for step in range(current + DRIFT_STEPS, current - DRIFT_STEPS - 1, -1):
        if utils.strings_equal(code, totp.generate_otp(step)):
            return step
    return None
