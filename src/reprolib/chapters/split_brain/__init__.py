"""Chapter 4 (in preparation): split-brain autoencoders (Zhang, Isola & Efros, CVPR 2017; thesis chapter 5).

So far the paper's numbers (``paper``); the networks are in ``reprolib.models.splitbrain`` and the linear
probe in ``reprolib.metrics.probe``. The chapter is not registered in ``reprolib.chapters.CHAPTERS`` yet.
"""
