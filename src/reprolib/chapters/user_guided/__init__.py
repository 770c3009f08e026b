"""2. User-guided colorization: the chapter's package.

``experiment`` (data, training and measurement: what the notebook and ``python -m reprolib reproduce user_guided``
run), ``verdicts`` (the claims, facts and paper-versus-ours tables, judged from the measurements alone),
``paper`` (the paper's numbers), ``checks`` (the exercises' automatic checks); also ``demo`` (the hint editor),
``official`` (the released weights, for comparison only), ``hints``, ``palette`` and ``levin``.

The names importable from this package (those of ``experiment`` and ``verdicts``) are the chapter's
public interface: the registry calls ``run``, the book pages read ``TITLE``, ``NOTEBOOK``, ``NEEDS_GPU``,
``claims`` and ``paper_tables``, and a later chapter may call a public function from here (``lpips`` uses
``automatic.train_variant``), never reach into the package's modules.
"""

from reprolib.chapters.user_guided import checks, paper  # noqa: F401
from reprolib.chapters.user_guided.experiment import *  # noqa: F401,F403
from reprolib.chapters.user_guided.verdicts import *  # noqa: F401,F403
