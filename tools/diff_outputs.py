"""Compare two output folders of `reproduce`, HDF5 dataset by dataset.

    python tools/diff_outputs.py DIR_A DIR_B

Shows that a change of code leaves a run's numbers as they were: every unit file in DIR/units (matched
by file name, which carries the configuration's hash) and DIR/figures.h5 are compared dataset by dataset
with numpy's assert_array_equal (strict: shapes and dtypes too; NaN equals NaN), with every attribute,
and with the set of groups and datasets. Left out: the `volatile` group (time, host, memory), and the
provenance attributes that differ between code revisions by design (git_revision, git_dirty,
git_diff_sha256, and figures.h5's units_computed_by, the code labels of its units).
Plots, REPORT.md and run.json are not compared (they are made from figures.h5 and the configuration).

Prints one line per difference, naming the file and the dataset or attribute. Exit status: 0 identical,
1 something differs, 2 bad input (a one-line error on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

REVISION_ATTRS = frozenset({"git_revision", "git_dirty", "git_diff_sha256", "units_computed_by"})
GROUP = object()  # stands for a group in a file's contents


class BadInput(Exception):
    pass


def _ignored_attr(owner: str, name: str) -> bool:
    return owner == "provenance" and name in REVISION_ATTRS


def _contents(path: Path) -> dict[str, object]:
    """name -> value for every dataset, "name@attr" -> value for every attribute ("@attr" at the root),
    and name -> GROUP for every group; the top-level `volatile` group is left out."""
    items: dict[str, object] = {}
    try:
        with h5py.File(path, "r") as f:
            items.update({f"@{k}": v for k, v in f.attrs.items()})

            def visit(name, obj):
                if name == "volatile" or name.startswith("volatile/"):
                    return
                items.update({f"{name}@{k}": v for k, v in obj.attrs.items() if not _ignored_attr(name, k)})
                items[name] = obj[()] if isinstance(obj, h5py.Dataset) else GROUP

            f.visititems(visit)
    except OSError as error:
        raise BadInput(f"cannot read {path} as HDF5 ({error})") from None
    return items


def _describe(name: str, value: object = None) -> str:
    return f"attribute {name}" if "@" in name else f"group {name}" if value is GROUP else f"dataset {name}"


def _summary(a, b) -> str:
    """What differs between two values that assert_array_equal(strict=True) tells apart."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 and b.ndim == 0:
        dtypes = f" (dtypes {a.dtype}, {b.dtype})" if a.dtype != b.dtype else ""
        return f"{a.item()!r:.80} != {b.item()!r:.80}{dtypes}"
    if a.shape != b.shape:
        return f"shapes {a.shape}, {b.shape}"
    if a.dtype != b.dtype:
        return f"dtypes {a.dtype}, {b.dtype}"
    unequal = a != b
    if a.dtype.kind in "fc":
        unequal &= ~(np.isnan(a) & np.isnan(b))
    if not unequal.any():
        return "values differ"
    first = tuple(int(i) for i in np.argwhere(unequal)[0])
    return f"{int(unequal.sum())} of {a.size} elements, first at {first}: {a[first].item()!r} != {b[first].item()!r}"


def compare_files(a: Path, b: Path, label: str) -> list[str]:
    """One line per difference between two HDF5 files, each starting with `label`."""
    ca, cb = _contents(a), _contents(b)
    out = [f"{label}: {_describe(name, ca[name])} only in A" for name in ca.keys() - cb.keys()]
    out += [f"{label}: {_describe(name, cb[name])} only in B" for name in cb.keys() - ca.keys()]
    for name in ca.keys() & cb.keys():
        va, vb = ca[name], cb[name]
        if va is GROUP or vb is GROUP:
            if va is not vb:
                out.append(f"{label}: {name} is a group in one file and a dataset in the other")
            continue
        try:
            np.testing.assert_array_equal(va, vb, strict=True)
        except AssertionError:
            out.append(f"{label}: {_describe(name)} differs: {_summary(va, vb)}")
    return sorted(out)


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder")
    if not (folder / "units").is_dir() and not (folder / "figures.h5").is_file():
        raise BadInput(f"{folder} is not an output folder of reproduce (no units/ and no figures.h5)")


def compare_folders(a: Path, b: Path) -> tuple[list[str], int]:
    """(differences, number of files compared) between two output folders."""
    _check_folder(a)
    _check_folder(b)
    units_a = {p.name for p in (a / "units").glob("*.h5")}
    units_b = {p.name for p in (b / "units").glob("*.h5")}
    out = [f"units/{name}: only in A" for name in sorted(units_a - units_b)]
    out += [f"units/{name}: only in B" for name in sorted(units_b - units_a)]
    pairs = [(f"units/{name}", a / "units" / name, b / "units" / name) for name in sorted(units_a & units_b)]
    has_a, has_b = (a / "figures.h5").is_file(), (b / "figures.h5").is_file()
    if has_a and has_b:
        pairs.append(("figures.h5", a / "figures.h5", b / "figures.h5"))
    elif has_a or has_b:
        out.append(f"figures.h5: only in {'A' if has_a else 'B'}")
    for label, path_a, path_b in pairs:
        out += compare_files(path_a, path_b, label)
    return out, len(pairs)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (usage: python tools/diff_outputs.py DIR_A DIR_B)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="diff_outputs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir_a", type=Path, metavar="DIR_A")
    parser.add_argument("dir_b", type=Path, metavar="DIR_B")
    args = parser.parse_args(argv)
    try:
        differences, compared = compare_folders(args.dir_a, args.dir_b)
    except BadInput as error:
        print(f"diff_outputs: error: {error}", file=sys.stderr)
        return 2
    for line in differences:
        print(line)
    if differences:
        print(f"{len(differences)} difference(s) between A={args.dir_a} and B={args.dir_b}")
        return 1
    print(f"identical: {compared} file(s) (volatile group and revision attributes left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
