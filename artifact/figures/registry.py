"""Figures by their --figures value, in the paper's order."""

from __future__ import annotations

from artifact.figures.base import AbstractFigure

_FIGURES: dict[str, AbstractFigure] = {}


def register_figure(figure: AbstractFigure) -> AbstractFigure:
    if figure.key in _FIGURES and type(_FIGURES[figure.key]) is not type(figure):
        raise ValueError(f"figure {figure.key!r} is taken by {type(_FIGURES[figure.key]).__name__}")
    _FIGURES[figure.key] = figure
    return figure


def figure(key: str) -> AbstractFigure:
    try:
        return _FIGURES[key]
    except KeyError:
        raise ValueError(f"unknown figure {key!r}; choose from {','.join(_FIGURES)}") from None


def keys() -> tuple[str, ...]:
    """Every registered figure: the paper's, then the extensions."""
    return tuple(_FIGURES)


def paper_keys() -> tuple[str, ...]:
    """The paper's figures: what --figures all means."""
    return tuple(key for key, figure in _FIGURES.items() if not figure.extension)
