"""HDF5 result files (units and figures.h5): their schema, writing them with provenance, reading them.

A file appears under its final name only once it is complete (`files.write_bytes`), and it carries
`complete = 1` and its schema name as attributes; `validate` checks those and the datasets the
schema requires, so a truncated or foreign file is never taken for a finished result.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from artifact import files, provenance

# 2: the step's layout (points_per_chunk) left TrainConfig, so unit identities changed once.
# 3: training units hold each model's distances from x̄_* and x̄_mem.
SCHEMA_VERSION = 3


class InvalidResultFile(Exception):
    """A file that exists but is not a complete result of the expected kind."""


def _write_attr(obj, name: str, value: Any) -> None:
    if isinstance(value, (dict, list, tuple)) and not (
        isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value)
    ):
        value = json.dumps(value, sort_keys=True)
    if value is None:
        value = "none"
    obj.attrs[name] = value


def _write_tree(group: h5py.Group, tree: Mapping[str, Any]) -> None:
    """tree: name -> array, or name -> nested mapping (a subgroup). A mapping under key "attrs"
    becomes attributes of the group; a (array, attrs) tuple gives a dataset its attributes."""
    for name, value in tree.items():
        if name == "attrs":
            for attr_name, attr_value in value.items():
                _write_attr(group, attr_name, attr_value)
        elif isinstance(value, Mapping):
            _write_tree(group.create_group(name), value)
        else:
            attrs = {}
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
                value, attrs = value
            data = np.asarray(value)
            dataset = group.create_dataset(name, data=data)
            for attr_name, attr_value in attrs.items():
                _write_attr(dataset, attr_name, attr_value)


def write_atomic(
    path: Path,
    kind: str,
    config: Mapping[str, Any],
    tree: Mapping[str, Any],
    provenance: Mapping[str, Any],
    volatile: Mapping[str, Any],
) -> None:
    """Write an HDF5 file of `kind` at `path`, all or nothing.

    config: the resolved configuration (stored as JSON, with its hash for units);
    provenance: stable facts (versions, revision, settings) that reruns share;
    volatile: facts that differ between reruns (time, host, wall time, memory), kept in their own group.
    """
    # Built in memory, then written as bytes: h5py then never writes to (or closes a file on) a full
    # disk, which can crash the process in h5py's clean-up instead of raising.
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", track_order=True) as f:
        f.attrs["schema"] = f"{kind}/v{SCHEMA_VERSION}"
        f.attrs["config"] = json.dumps(config, sort_keys=True)
        _write_tree(f, tree)
        prov = f.create_group("provenance")
        for name, value in provenance.items():
            _write_attr(prov, name, value)
        vol = f.create_group("volatile")
        for name, value in volatile.items():
            _write_attr(vol, name, value)
        f.attrs["complete"] = 1  # last: a file without it was not finished
    files.write_bytes(path, buffer.getvalue())


def validate(path: Path, kind: str, required: tuple[str, ...] = ()) -> None:
    """Raise InvalidResultFile unless `path` is a complete file of `kind` under this schema with `required` datasets.

    A unit's required datasets are what its family and data model declare (`experiment.required_datasets`).
    """
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("complete") != 1:
                raise InvalidResultFile(f"{path} is incomplete (no 'complete' mark)")
            schema = f.attrs.get("schema")
            if schema != f"{kind}/v{SCHEMA_VERSION}":
                raise InvalidResultFile(f"{path} has schema {schema!r}, expected {kind}/v{SCHEMA_VERSION}")
            missing = [name for name in required if name not in f]
            if missing:
                raise InvalidResultFile(f"{path} lacks datasets: {', '.join(missing)}")
            for group in ("provenance", "volatile"):
                if group not in f:
                    raise InvalidResultFile(f"{path} lacks its {group} group")
    except OSError as error:
        raise InvalidResultFile(f"{path} is not a readable HDF5 file ({error})") from error


def is_complete(path: Path, kind: str, required: tuple[str, ...] = ()) -> bool:
    try:
        validate(path, kind, required)
    except InvalidResultFile:
        return False
    return True


def code_labels(paths) -> dict[str, list[str]]:
    """Which code wrote each result file: {provenance.code_label: [file names]}; unreadable files are skipped."""
    labels: dict[str, list[str]] = {}
    for path in paths:
        try:
            with h5py.File(path, "r") as f:
                label = provenance.code_label(dict(f["provenance"].attrs))
        except (OSError, KeyError):
            continue
        labels.setdefault(label, []).append(Path(path).name)
    return labels


def read_tree(path: Path) -> dict[str, Any]:
    """Every dataset of a file as numpy arrays, keyed by its path ("a/b"); attributes under "@name"."""
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        for name, value in f.attrs.items():
            out[f"@{name}"] = value

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]

        f.visititems(visit)
    return out


def config_of(path: Path) -> dict[str, Any]:
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["config"])
