"""Reproduction of "On the Edge of Memorization in Diffusion Models" (Buchanan, Pai, Ma, De Bortoli, NeurIPS 2025)."""

__version__ = "0.1.0"
