"""Profiles are data: the same experiment code at every scale.

`paper` is exactly the paper's setting (App. H.1). `cpu` and `smoke` shrink the problem (N, d, K and
the tuple set) and, where they must, the number of steps; what each one still shows is stated in
its description and in the README. `--set key=value` overrides any field by its dotted name.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from dataclasses import dataclass, field

from artifact.data import MixtureDataConfig
from artifact.experiment import EvalConfig
from artifact.families.colored import RELEASED_CONFIG, ColoredDataConfig
from artifact.layout import Layout
from artifact.train import TrainConfig

FIG5_CONFIGS = ("paper", "released")

Tuple3 = tuple[int, int, int]  # (N, d, K)


@dataclass(frozen=True)
class RegressionConfig:
    """The lambda-tilde regression of App. H.3 (Fig. 3)."""

    constant: float = 2.0  # C of Theorem 3.2 in the approximate losses
    temperature: float = 1.0 / 20.0  # tau of the softmin over M
    entropy_weight: float = 1e-3  # beta_sparsity
    steps: int = 3000
    learning_rate: float = 5e-2
    heldout_every: int = 4  # tuples in sorted (N, d, K) order with index % 4 == 3 are held out

    def __post_init__(self):
        if self.temperature <= 0 or self.steps < 1 or self.heldout_every < 2:
            raise ValueError(f"invalid regression settings: {self}")


@dataclass(frozen=True)
class MLPSettings:
    """The MLP extension (--figures mlp, beyond the paper): hidden widths on Fig. 2's data set, and training.

    The widths double from far below the mixture's crossover (M_pt d ~ 0.8 N d parameters) to far
    above it; the training is the mixtures' (estimator, grid, N_dup, optimiser, schedule).
    """

    widths: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if not self.widths or min(self.widths) < 1 or list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"MLP widths must be distinct positive integers in increasing order, got {self.widths}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    seeds: tuple[int, ...]  # the first drives Figs 1, 2, 3, 6; all of them Fig. 7
    fig2: Tuple3  # (N, d, K) of Figs 1, 2, 6, 7
    fig3: tuple[Tuple3, ...]  # the sweep of Fig. 3
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    regression: RegressionConfig = field(default_factory=RegressionConfig)
    initial_models: int = 10  # M = N/10, ..., N
    refinement_models: int = 10  # more M inside the transition bracket
    fig3_all_seeds: bool = False  # also train the Fig. 3 sweep at every seed (M_pt spread)
    num_heldout: int = 100
    data_variance: float = 1.0
    # Figures 4 and 5 (colored Fashion-MNIST templates). fig5_config "paper" is the paper's text (K = 4,
    # lr 1e-3 -> 1e-6, warm-up 1/10; clipping and update-EMA as in §4.1); "released" switches to the
    # released code's K = 6, lr 1e-4 -> 1e-8, warm-up 1/20, clip 1e3, update-EMA 0.1.
    fig4_templates: int = 8
    fig5_data: ColoredDataConfig = field(default_factory=ColoredDataConfig)
    fig5_train: TrainConfig = field(default_factory=lambda: TrainConfig(num_steps=100_000))
    fig5_models: int = 10  # M = N/10, ..., N
    fig5_config: str = "paper"
    mlp: MLPSettings = field(default_factory=MLPSettings)
    # Whether a run of this profile must show the paper's claims (expected/paper.json): if so, `compare`
    # exits 1 when one fails; if not (smoke checks the pipeline only), they are reported.
    paper_claims_must_hold: bool = True
    # Speed only, not part of any unit's identity: points per pass of a training step (0: the backend's).
    layout: Layout = field(default_factory=Layout)

    def __post_init__(self):
        if self.fig5_config not in FIG5_CONFIGS:
            raise ValueError(f"fig5_config must be one of {', '.join(FIG5_CONFIGS)}, not {self.fig5_config!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ValueError(f"seeds must be distinct non-negative integers, got {self.seeds}")
        for n, d, k in (self.fig2, *self.fig3):
            MixtureDataConfig(num_train=n, dim=d, num_components=k)  # validates
        if self.initial_models < 2:
            raise ValueError("initial_models must be at least 2")

    def data(self, tuple3: Tuple3) -> MixtureDataConfig:
        n, d, k = tuple3
        return MixtureDataConfig(
            num_train=n, dim=d, num_components=k, variance=self.data_variance, num_heldout=self.num_heldout
        )


def _grid(ns, ds, ks) -> tuple[Tuple3, ...]:
    return tuple(itertools.product(ns, ds, ks))


PROFILES = {
    "paper": Profile(
        name="paper",
        description="The paper's exact settings (App. H.1): N=200, d=50, K=12 for Figs 1/2/6/7, the 64-tuple "
        "sweep for Fig. 3, 50,000 full-batch Adam steps, N_dup=100, 50 DDIM samples. Needs a GPU.",
        seeds=(0, 1, 2),
        fig2=(200, 50, 12),
        fig3=_grid((50, 100, 150, 200), (30, 40, 50, 60), (3, 6, 9, 12)),
    ),
    "cpu": Profile(
        name="cpu",
        description="Reduced scale for a 2-core laptop, with the paper's optimisation: 50,000 full-batch Adam "
        "steps and the paper's schedule (Fig. 5: 100,000), so models train as long as the paper's. Only the "
        "problem shrinks: N in {20, 30} and d = 20 (the step's cost grows with N d ΣM), K in {2, 4} (about ten "
        "points per component, the paper's N/K ~ 17 being out of reach), N_dup = 10 (the same expected loss; "
        "at (40, 20, 4) 10 and 20 draws gave the same ratios within 2 of 50 samples), 4 Fig. 3 tuples (the "
        "fewest with a held-out one), 50 DDIM samples, and for Fig. 5 N = 10, 8 x 8 templates, N_dup = 5. Figs 1, "
        "2, 6, 7 and the MLP use (30, 20, 2): at N = 20 an M step is 0.05 N and one seed's transition came out "
        "0.35 N wide; at N = 30 every seed's lies within 0.3 N.",
        seeds=(0, 1, 2),
        fig2=(30, 20, 2),
        fig3=_grid((20, 30), (20,), (2, 4)),
        train=TrainConfig(num_steps=50_000, noise_draws=10),
        eval=EvalConfig(num_samples=50, loss_noise_draws=50, baseline_points=40),
        num_heldout=50,
        fig5_data=ColoredDataConfig(num_train=10, num_templates=4, size=8, num_heldout=20, template_source="offline"),
        fig5_train=TrainConfig(num_steps=100_000, noise_draws=5),
        # The mixtures' training. Crossover ~0.8 N d = 480 parameters; widths 1..128 give 71 to 22,804.
        mlp=MLPSettings(widths=(1, 2, 4, 8, 16, 32, 64, 128), train=TrainConfig(num_steps=50_000, noise_draws=10)),
        # Fig. 3's tuples of one N and Fig. 7's seeds train their first stage in one program: 1.2-1.4x here.
        layout=Layout(datasets_per_program=4),
    ),
    "smoke": Profile(
        name="smoke",
        description="Every figure end to end in minutes (CI): tiny data (N <= 20, d = 8), 6,000 steps at a "
        "10x learning rate (1e-2) so that small models leave the memorizing start. Checks the pipeline, not the "
        "paper's numbers.",
        seeds=(0, 1, 2),
        fig2=(20, 8, 2),
        fig3=_grid((16, 20), (8,), (2, 3)),
        train=TrainConfig(num_steps=6_000, noise_draws=10, peak_lr=1e-2, final_lr=1e-5),
        eval=EvalConfig(num_samples=50, loss_noise_draws=10, baseline_points=20),
        regression=RegressionConfig(steps=500),
        initial_models=5,
        refinement_models=4,
        num_heldout=20,
        fig5_data=ColoredDataConfig(num_train=10, num_templates=4, num_heldout=10, template_source="offline"),
        fig5_train=TrainConfig(num_steps=1_500, noise_draws=5),
        fig5_models=5,
        paper_claims_must_hold=False,
        # Crossover ~0.8 N d = 128 parameters; widths 1..64 give ~20 to ~5,800.
        mlp=MLPSettings(
            widths=(1, 2, 4, 8, 16, 32, 64),
            train=TrainConfig(num_steps=6_000, noise_draws=10, peak_lr=1e-2, final_lr=1e-5),
        ),
    ),
}


class BadOverride(ValueError):
    pass


def _convert(text: str, annotation, where: str):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise BadOverride(f"{where} takes true or false, not {text!r}")
    if annotation in (int, float, str):
        try:
            return annotation(text)
        except ValueError:
            raise BadOverride(
                f"{where} takes a{'n' if annotation is int else ''} {annotation.__name__}, not {text!r}"
            ) from None
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if text.lower() == "none":
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(text, inner, where)
    if origin is tuple:
        if args == (int, int, int):  # one (N, d, K)
            parts = text.replace("x", "/").split("/")
            if len(parts) != 3:
                raise BadOverride(f"{where} takes N/d/K (e.g. 200/50/12), not {text!r}")
            return tuple(_convert(p, int, where) for p in parts)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(p, args[0], where) for p in text.split(",") if p)
    raise BadOverride(f"{where} cannot be set from the command line")


def apply_override(obj, dotted: str, text: str):
    """Return a copy of a (nested) frozen dataclass with the field `dotted` set from `text`."""
    head, _, rest = dotted.partition(".")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if head not in fields or head == "name":
        raise BadOverride(f"unknown setting {dotted!r}; settable: {', '.join(settable_keys(obj))}")
    hints = typing.get_type_hints(type(obj))
    current = getattr(obj, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise BadOverride(f"{head} has no field {rest!r}")
        value = apply_override(current, rest, text)
    else:
        if dataclasses.is_dataclass(current):
            raise BadOverride(
                f"{head} is a group; set one of its fields, e.g. {head}.{dataclasses.fields(current)[0].name}=..."
            )
        value = _convert(text, hints[head], dotted)
    try:
        return dataclasses.replace(obj, **{head: value})
    except (ValueError, TypeError) as error:
        raise BadOverride(f"{dotted}={text}: {error}") from None


def settable_keys(obj, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(obj):
        if f.name == "name":
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            keys += settable_keys(value, f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def resolve(name: str, overrides: list[str] = (), seeds: str | None = None) -> tuple[Profile, list[str]]:
    """The named profile with `key=value` overrides (and --seeds) applied. Returns it and the overrides."""
    if name not in PROFILES:
        raise BadOverride(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    profile = PROFILES[name]
    applied = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadOverride(f"override {item!r} is not key=value (e.g. train.num_steps=1000)")
        profile = apply_override(profile, key.strip(), value.strip())
        applied.append(f"{key.strip()}={value.strip()}")
    if seeds is not None:
        profile = apply_override(profile, "seeds", seeds)
        applied.append(f"seeds={seeds}")
    if profile.fig5_config == "released":
        profile = with_released_fig5(profile, [item.partition("=")[0].strip() for item in overrides])
    return profile, applied


def with_released_fig5(profile: Profile, explicit: list[str]) -> Profile:
    """Switch Fig. 5 to the released code's settings, keeping the profile's scale and explicit overrides."""
    data_changes = {"num_templates": RELEASED_CONFIG["num_templates"]}
    train_changes = {k: v for k, v in RELEASED_CONFIG.items() if k != "num_templates"}
    data_changes = {k: v for k, v in data_changes.items() if f"fig5_data.{k}" not in explicit}
    train_changes = {k: v for k, v in train_changes.items() if f"fig5_train.{k}" not in explicit}
    return dataclasses.replace(
        profile,
        fig5_data=dataclasses.replace(profile.fig5_data, **data_changes),
        fig5_train=dataclasses.replace(profile.fig5_train, **train_changes),
    )
