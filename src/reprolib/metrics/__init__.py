"""Measures any chapter may call: colour metrics (``color``: AuC of the ab error, PSNR, colourfulness, mass on
the true colour modes, ...), image distances (``distances``: L2, PSNR and SSIM as distances between patches)
LPIPS (``lpips``: the learned perceptual metric with the official weights) and the measures of diverse generators
(``diversity``: sample diversity, mode frequencies and coverage against the true distribution)."""
