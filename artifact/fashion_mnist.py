"""Fashion-MNIST: the manifest, download and verification, the IDX and CSV readers, and the templates
of the colored image model (paper §4.2, App. H.1).

Every read verifies checksums; a missing or corrupted file ends with one line naming the file and
the command that fixes it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artifact import files

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "data" / "fashion-mnist.json"


def data_dir() -> Path:
    """Where the canonical files live: $ARTIFACT_DATA_DIR, else data/fashion-mnist in the checkout."""
    return Path(os.environ.get("ARTIFACT_DATA_DIR") or ROOT / "data" / "fashion-mnist")


TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


class DataError(Exception):
    """Missing or corrupted data; the message says what to run."""


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def _digests(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def read_verified(folder: Path, name: str) -> bytes:
    """The bytes of a canonical file after checking its MD5 and SHA-256 against the manifest."""
    entry = manifest()["files"][name]
    path = Path(folder) / name
    fix = f"run `python -m artifact fetch-data --dir {folder}` (the paper profile needs the canonical training files)"
    if not path.exists():
        raise DataError(f"{path} is missing; {fix}")
    data = path.read_bytes()
    md5, sha256 = _digests(data)
    if md5 != entry["md5"] or sha256 != entry["sha256"]:
        raise DataError(f"{path} is corrupted (MD5 {md5} != {entry['md5']}); delete it and {fix}")
    return data


def fetch(folder: Path, base_url: str | None = None) -> list[Path]:
    """Download every canonical file that is missing or wrong, verify it, and move it into place atomically."""
    doc = manifest()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in doc["files"]:
        try:
            read_verified(folder, name)
            continue
        except DataError:
            pass
        url = (base_url or doc["base_url"]) + name
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (verified below)
                data = response.read()
        except OSError as error:
            raise DataError(
                f"cannot download {url} ({error}); on a machine without internet copy the four files "
                f"of {doc['mirror']} into {folder}"
            ) from None
        md5, _ = _digests(data)
        if md5 != doc["files"][name]["md5"]:
            raise DataError(f"{url} served a file with MD5 {md5}, not the official {doc['files'][name]['md5']}")
        files.write_bytes(folder / name, data)
        read_verified(folder, name)
        written.append(folder / name)
    return written


def parse_idx_images(data: bytes) -> np.ndarray:
    """gzip-compressed IDX3 (magic 2051, big-endian) -> uint8 (n, rows, cols)."""
    raw = gzip.decompress(data)
    magic, count, rows, cols = np.frombuffer(raw[:16], ">u4")
    if magic != IMAGE_MAGIC or len(raw) != 16 + count * rows * cols:
        raise DataError(f"not an IDX image file (magic {magic}, {len(raw)} bytes)")
    return np.frombuffer(raw[16:], np.uint8).reshape(count, rows, cols)


def parse_csv_images(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The common CSV layout (header `label,pixel1..pixel784`, one image a row) -> labels (n,), uint8 (n, 28, 28)."""
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785 or table.min() < 0 or table[:, 1:].max() > 255:
        raise DataError("not a Fashion-MNIST CSV (expected label + 784 pixel values 0-255 per row)")
    return table[:, 0], table[:, 1:].astype(np.uint8).reshape(-1, 28, 28)


def offline_sample() -> tuple[np.ndarray, Path]:
    """The 1,000 test-split images bundled for machines without internet (verified)."""
    entry = manifest()["offline_sample"]
    path = ROOT / entry["search_path"][0]
    if not path.exists():
        raise DataError(
            f"{path} is missing from this checkout; restore it with `git checkout -- {entry['search_path'][0]}`"
        )
    compressed = path.read_bytes()
    # Compared before decompressing: corrupted bytes must give this message, not a zlib traceback.
    if hashlib.sha256(compressed).hexdigest() != entry["sha256"]:
        raise DataError(f"{path} is corrupted; restore it with `git checkout -- {entry['search_path'][0]}`")
    return parse_csv_images(gzip.decompress(compressed).decode())[1], path


@dataclass(frozen=True)
class Templates:
    images: np.ndarray  # (K, size, size) float32 in [0, 1] (one global min-max)
    source: str  # "train-images-idx3-ubyte.gz" or the offline sample's file name
    indices: np.ndarray  # (K,) indices into that source


def choose_indices(count: int, pool: int) -> np.ndarray:
    """The paper's choice: jax.random.choice(PRNGKey(1), pool, (K,), replace=False)."""
    import jax

    return np.asarray(jax.random.choice(jax.random.PRNGKey(1), pool, (count,), replace=False))


def resize_bicubic(images: np.ndarray, size: int) -> np.ndarray:
    """PIL bicubic resize of uint8 images (n, 28, 28) -> float32 (n, size, size), values before normalisation."""
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC), np.float32) for im in images])


def make_templates(count: int, size: int = 15, source: str = "canonical", folder: Path | None = None) -> Templates:
    """K templates: choose images, bicubic-resize to size x size, one global min-max over the K to [0, 1].

    source: "canonical" (the training split, as in the paper) or "offline" (the bundled test-split sample).
    """
    if source == "canonical":
        images = parse_idx_images(read_verified(folder or data_dir(), TRAIN_IMAGES))
        name = TRAIN_IMAGES
    elif source == "offline":
        images, path = offline_sample()
        name = path.name
    else:
        raise ValueError(f"unknown template source {source!r}; choose canonical or offline")
    indices = choose_indices(count, images.shape[0])
    resized = resize_bicubic(images[indices], size)
    lo, hi = resized.min(), resized.max()
    return Templates(images=((resized - lo) / (hi - lo)).astype(np.float32), source=name, indices=indices)
