"""One module per chapter: what the notebook and the CLI (``python -m reprolib reproduce``) run.

``CHAPTERS`` maps a chapter's name to ``"module:function"``; the function is called as
``run(profile=..., seed=..., force=..., device=...)`` and returns the results dict it wrote.
"""

CHAPTERS = {"automatic": "reprolib.experiments.automatic:run"}
