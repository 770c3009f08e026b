"""Small display helpers for the notebooks: show the package's own source next to the narrative."""

from __future__ import annotations

import inspect
import textwrap


def source_of(obj) -> str:
    """The source code of a function, class or method of reprolib (dedented)."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError) as err:
        raise TypeError(f"cannot show the source of {obj!r}: {err}") from err


def show_source(obj):
    """Display ``obj``'s source with syntax highlighting (IPython), or return it as text elsewhere."""
    code = source_of(obj)
    try:
        from IPython.display import Code

        return Code(code, language="python")
    except ImportError:  # pragma: no cover - IPython ships with the book extras
        return code
