"""3. BicycleGAN, diverse colourings from a latent code (Zhu et al., NIPS 2017; thesis chapter 4).

So far the package holds ``official`` (the released generator and encoder: their layout, built on any device,
and the opt-in download and strict load) and ``checks`` (the automatic checks of the chapter's exercises).
The networks and their update step live in :mod:`reprolib.models.bicyclegan`, the shared building blocks in
:mod:`reprolib.nn` and the diversity measures in :mod:`reprolib.metrics.diversity`. The chapter is not yet in
the registry: its experiment, verdicts and notebook come next.
"""
