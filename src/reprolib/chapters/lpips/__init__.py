"""5. LPIPS: deep features as a perceptual metric: the chapter's package.

``experiment`` (data, training and measurement: what the notebook and ``python -m reprolib reproduce lpips``
run), ``verdicts`` (the claims, facts and paper-versus-ours tables, judged from the measurements alone),
``paper`` (the paper's numbers), ``checks`` (the exercises' automatic checks); also ``vectors`` (Eq. 6.1 as a dot
product, and the lin calibration), ``demo`` (the distortion explorer), and ``distortions``,
``cnn_distortions``, ``judgments``, ``agreement``, ``ranking`` and ``bapps``.

The names importable from this package (those of ``experiment`` and ``verdicts``) are the chapter's
public interface: the registry calls ``run``, the book pages read ``TITLE``, ``NOTEBOOK``, ``NEEDS_GPU``,
``claims`` and ``paper_tables``, and a later chapter may call a public function from here (``lpips`` uses
``automatic.train_variant``), never reach into the package's modules.
"""

from reprolib.chapters.lpips import checks, paper  # noqa: F401
from reprolib.chapters.lpips.experiment import *  # noqa: F401,F403
from reprolib.chapters.lpips.verdicts import *  # noqa: F401,F403
