"""Measures any chapter may call: colour metrics (``color``: AuC of the ab error, PSNR, colourfulness, mass on
the true colour modes, ...), image distances (``distances``: L2, PSNR and SSIM as distances between patches)
and LPIPS (``lpips``: the learned perceptual metric with the official weights)."""
