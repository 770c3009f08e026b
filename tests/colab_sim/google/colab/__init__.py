"""Stand-in for Colab's ``google.colab`` package, installed only into the simulated runtime of
tests/test_colab_sim.py. It records what the chapter's set-up cell asks of Colab in the folder named by
``COLAB_SIM_LOG`` so the test can check it."""

import os


def _log(event: str) -> None:
    folder = os.environ.get("COLAB_SIM_LOG")
    if folder:
        with open(os.path.join(folder, "colab-events.txt"), "a") as f:
            f.write(event + "\n")
