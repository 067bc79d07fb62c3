"""Fig. 4 (§4.2): K = N = 8 Fashion-MNIST templates and one colored sample of each (data only: no unit)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import jax
import numpy as np

from artifact import fashion_mnist, rng
from artifact.figures.base import AbstractFigure, Needs, Observation, dataset
from artifact.figures.registry import register_figure
from artifact.profiles import Profile


class Figure4(AbstractFigure):
    """A picture of the data: no unit, computed at assembly."""

    key: ClassVar[str] = "4"
    size: ClassVar[tuple[float, float]] = (10, 3)
    caption: ClassVar[str] = "The templates (top) and one colored sample of each (bottom)."

    def needs(self, profile: Profile) -> Needs:
        return Needs()

    def assemble(self, profile: Profile, units_dir: Path) -> dict:
        size = profile.fig5_data.size
        chosen = fashion_mnist.make_templates(profile.fig4_templates, size, profile.fig5_data.template_source)
        templates = np.asarray(chosen.images.reshape(len(chosen.images), -1))
        colors = np.asarray(
            jax.random.normal(
                rng.stream(profile.seeds[0], "fig4", "colors"), (len(templates), profile.fig5_data.channels)
            )
        )
        samples = colors[:, :, None] * templates[:, None, :]
        paper = "Fig. 4, §4.2"
        return {
            "templates": dataset(
                chosen.images, "1", "monochrome templates (bicubic 15x15, one global min-max)", paper + " top"
            ),
            "colored_samples": dataset(
                samples.reshape(len(templates), -1, size, size),
                "1",
                "one colored sample c ⊗ a of each template, c ~ N(0, I_3), (K, C, H, W)",
                paper + " bottom",
            ),
            "attrs": {"template_source": chosen.source, "template_indices": [int(i) for i in chosen.indices]},
        }

    def plot(self, g, fig) -> None:
        templates, samples = g["templates"][()], g["colored_samples"][()]
        k = len(templates)
        axes = fig.subplots(2, k, squeeze=False)
        for i in range(k):
            axes[0, i].imshow(templates[i], cmap="gray", vmin=0, vmax=1)
            axes[1, i].imshow(np.clip(np.moveaxis(samples[i], 0, -1), 0, 1))
            for ax in axes[:, i]:
                ax.set_axis_off()

    def observables(self, g, samples: int) -> dict[str, Observation]:
        return {
            "fig4.template_mean": Observation(
                float(np.mean(g["templates"][()])), "absolute", "Fig. 4: the templates (source and rule)"
            )
        }


register_figure(Figure4())
