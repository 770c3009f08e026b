"""Chapter 7: exemplar-based colorization (He et al., SIGGRAPH 2018)."""
