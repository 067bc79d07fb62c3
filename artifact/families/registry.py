"""Denoiser families and data models by name (as score_sde's model registry), and by unit kind."""

from __future__ import annotations

from artifact.families.base import AbstractDataModel, AbstractDenoiserFamily

_FAMILIES: dict[str, AbstractDenoiserFamily] = {}
_DATA_MODELS: dict[str, AbstractDataModel] = {}


def register_family(family: AbstractDenoiserFamily) -> AbstractDenoiserFamily:
    """Make `family` available by its name to units and the pipeline. Names and unit kinds are unique."""
    _register(_FAMILIES, family, "unit_kind")
    return family


def register_data_model(model: AbstractDataModel) -> AbstractDataModel:
    _register(_DATA_MODELS, model, "baseline_kind")
    return model


def _register(table: dict, entry, kind_attribute: str) -> None:
    kind = getattr(entry, kind_attribute)
    for other in table.values():
        if type(other) is type(entry):
            continue
        if other.name == entry.name or getattr(other, kind_attribute) == kind:
            raise ValueError(
                f"{type(entry).__name__}: name {entry.name!r} or kind {kind!r} is taken by {type(other).__name__}"
            )
    table[entry.name] = entry


def family(name: str) -> AbstractDenoiserFamily:
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown denoiser family {name!r}; registered: {', '.join(sorted(_FAMILIES))}") from None


def data_model(name: str) -> AbstractDataModel:
    try:
        return _DATA_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown data model {name!r}; registered: {', '.join(sorted(_DATA_MODELS))}") from None


def by_kind(kind: str) -> AbstractDenoiserFamily | AbstractDataModel:
    """The family whose training units, or the data model whose baseline units, have this `kind`."""
    for entry in (*_FAMILIES.values(), *_DATA_MODELS.values()):
        if kind in (getattr(entry, "unit_kind", None), getattr(entry, "baseline_kind", None)):
            return entry
    raise ValueError(f"no registered family or data model makes units of kind {kind!r}")
