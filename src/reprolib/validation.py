"""Argument checks kept apart from the arithmetic they guard.

A function that the book shows beside its paper (``show_source``) should read like the paper's
equations, not like ten lines of type checks around a two-line loss. Its checks therefore live in a
separate function attached with :func:`checked_by`: the check runs first, on the same arguments with the
defaults filled in, and raises a clear error for bad input; the decorated function's body is the method
alone. The decorator line stays visible in the displayed source, so a reader sees where the checks are.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["checked_by"]


def checked_by(check: Callable[..., None]) -> Callable[[F], F]:
    """Run ``check(**arguments)`` before every call of the decorated function.

    ``check`` receives every parameter of the decorated function by name (``self`` included for a
    method; defaults applied) and raises ``TypeError``/``ValueError`` with a message that says what was
    wrong and what is expected. Arguments that do not fit the signature raise the usual ``TypeError``.
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check(**bound.arguments)
            return fn(*args, **kwargs)

        wrapper.check = check  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
