"""The exit codes of alamp's commands: one place, so scripts and CI can tell failures apart.

``python -m alamp.run`` (and ``alamp.compile``, ``alamp.report``) exit with one of these. A run that produced a
policy passing the reference threshold, or (without a reference) a trained policy, exits ``OK``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "exit_code_for_status"]


class ExitCode(IntEnum):
    """Process exit codes (0 success; each failure kind its own non-zero value)."""

    OK = 0
    #: Something unexpected (a bug): the traceback is printed.
    INTERNAL = 1
    #: The input is unusable: unknown task, missing or unreadable file, bad option, description too large.
    BAD_INPUT = 2
    #: The LM could not be reached or kept failing (refused, timed out, 5xx after retries).
    LM_UNAVAILABLE = 3
    #: An agent before the environment produced no usable output.
    MODELING_FAILED = 4
    #: No environment candidate passed the checks.
    ENV_FAILED = 5
    #: Training failed or the policy did not pass the reference threshold.
    POLICY_FAILED = 6


# run.json's ``status`` -> exit code. Statuses not listed are internal errors.
_BY_STATUS = {
    "ok": ExitCode.OK,
    "failed": ExitCode.MODELING_FAILED,
    "env_failed": ExitCode.ENV_FAILED,
    "train_failed": ExitCode.POLICY_FAILED,
    "policy_failed": ExitCode.POLICY_FAILED,
    "lm_unavailable": ExitCode.LM_UNAVAILABLE,
    "bad_input": ExitCode.BAD_INPUT,
}


def exit_code_for_status(status: str) -> ExitCode:
    """The exit code for a run's final ``status`` (``INTERNAL`` for one this table does not know)."""
    return _BY_STATUS.get(status, ExitCode.INTERNAL)
