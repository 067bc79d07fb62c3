"""Data models and denoiser families behind one interface (`base`), looked up by name (`registry`).

Built in: the isotropic Gaussian-mixture data with the isotropic mixture denoiser (Figs 1-3, 6, 7),
the colored Fashion-MNIST templates with the colored template mixture (Figs 4, 5), and a plain MLP
denoiser on the isotropic data (beyond the paper).
"""

from artifact.families import colored, isotropic, mlp  # noqa: E402, F401  (registers the built-in families)
from artifact.families.base import AbstractDataModel, AbstractDenoiserFamily
from artifact.families.registry import by_kind, data_model, family, register_data_model, register_family

__all__ = [
    "AbstractDataModel",
    "AbstractDenoiserFamily",
    "by_kind",
    "data_model",
    "family",
    "register_data_model",
    "register_family",
]
