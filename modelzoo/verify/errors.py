"""The verifier's two kinds of failure, kept apart because the pipeline treats them apart.

`VerificationError`: the IR was checked and does not compute what its source computes. That is
a verdict on the bytes: it is cached (keyed on everything that can change it) and stays until
the IR, the flags or a runtime changes.

`VerifierUnavailable`: the check could not run at all (a runtime is not installed, refuses the
source model, runs out of memory; an input's shape is not fixed by anything). That says nothing
about the IR: it is never cached, and the next run tries again.
"""
from __future__ import annotations

from converter.errors import UserInputError

from ..errors import PipelineError


class VerificationError(UserInputError):
    """A converted IR does not compute what its source model computes."""


class VerifierUnavailable(PipelineError):
    """The verification could not run; the message says what is missing and what to do."""
