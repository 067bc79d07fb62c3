"""Render the figures (PNG and PDF) from figures.h5 alone; each figure module draws its own."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from artifact import figures, files  # noqa: E402


def render(figures_h5: Path, out_dir: Path) -> list[Path]:
    """Write figN.png and figN.pdf for every figure group in the file. Returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with h5py.File(figures_h5, "r") as f:
        for key in figures.keys():
            figure = figures.figure(key)
            name = figure.group
            if name not in f:
                continue
            fig = plt.figure(figsize=figure.size, layout="constrained")
            figure.plot(f[name], fig)
            title = f"Extension, not in the paper: {name}" if figure.extension else name.replace("fig", "Figure ")
            fig.suptitle(f"{title} ({f.attrs.get('profile', '?')} profile)", fontsize=10)
            for ext in ("png", "pdf"):
                path = out_dir / f"{name}.{ext}"
                image = io.BytesIO()  # rendered whole first: a reader never sees half an image
                fig.savefig(image, format=ext, dpi=120, metadata={"CreationDate": None} if ext == "pdf" else None)
                files.write_bytes(path, image.getvalue())
                written.append(path)
            plt.close(fig)
    return written
