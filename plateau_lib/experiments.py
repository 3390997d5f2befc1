"""The named experiments and studies shared by chapters, tests and benchmarks.

Each experiment is a frozen :class:`Experiment`: the data (target, grid), the
network (width, initialisation scheme and scale), the trainer with its settings,
the step budget, a seed, and a smaller ``quick_steps`` budget for CI. Chapters,
tests and benchmarks refer to experiments by name (:func:`get_experiment`) and
never copy their numbers.

The chapters' *studies*, which run registered experiments many times, are registered by
name in :mod:`plateau_lib.chapters`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from . import trainers
from ._validation import check_choice
from .network import ShallowReLU, init_network
from .result import TrainResult
from .targets import grid, target_values
from .trainers.stacked import train_gd_stack


@dataclass(frozen=True)
class Experiment:
    """A fully specified training experiment.

    Attributes
    ----------
    name : str
        Registry key.
    description : str
        One line for tables and captions.
    target : str
        Key of :data:`plateau_lib.targets.TARGETS`.
    m, d : int
        Number of grid points and input dimension (grid on ``[-1, 1]^d``).
    width : int
        Number of neurons ``n``.
    init_scheme : str
        Scheme of :func:`~plateau_lib.network.init_network`.
    init_scale : float
        Initialisation scale :math:`\\alpha`.
    trainer : str
        A method of :func:`plateau_lib.trainers.front_door.train` (:data:`plateau_lib.trainers.front_door.METHODS`).
    options : Mapping
        Trainer keyword options (e.g. ``{"lr": 0.1}``).
    steps, quick_steps : int
        Full and quick (CI) step budgets (for ``trainer="flow"``: the end time ``t_end``).
    seed : int
        Default seed of the initialisation.
    record_every : int
        Recording stride for the trainer.
    """

    name: str
    description: str
    target: str
    m: int
    d: int
    width: int
    init_scheme: str
    init_scale: float
    trainer: str
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    steps: int = 1000
    quick_steps: int = 100
    seed: int = 0
    record_every: int = 1

    def __post_init__(self) -> None:
        check_choice(self.trainer, "trainer", trainers.METHODS)
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The data set ``(X, y)``: the grid and the target's values on it."""
        X = grid(self.m, self.d)
        return X, target_values(self.target, X)

    def initial_network(self, seed: int | None = None, *, scale: float | None = None) -> ShallowReLU:
        """The initial network for ``seed`` (default: the experiment's seed)."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return init_network(self.width, self.d, scale=self.init_scale if scale is None else scale,
                            rng=rng, scheme=self.init_scheme)

    def budget(self, quick: bool = False) -> int:
        """Step budget: ``quick_steps`` in quick mode, ``steps`` otherwise."""
        return self.quick_steps if quick else self.steps

    def run(
        self,
        seed: int | None = None,
        *,
        quick: bool = False,
        net: ShallowReLU | None = None,
        progress: bool = False,
        **overrides: Any,
    ) -> TrainResult:
        """Train from ``net`` (default: :meth:`initial_network` of ``seed``).

        ``overrides`` replace trainer options or the budget (``steps=``).
        """
        X, y = self.data()
        net = self.initial_network(seed) if net is None else net
        return trainers.train(net, X, y, self.trainer, progress=progress, **self.trainer_options(quick, **overrides))

    def trainer_options(self, quick: bool = False, **overrides: Any) -> dict[str, Any]:
        """The keyword options :meth:`run` passes to the trainer: the experiment's, the budget
        of the mode and the record stride, with ``overrides`` replacing any of them."""
        options = dict(self.options) | overrides
        budget = trainers.BUDGETS[self.trainer]
        options.setdefault(budget, float(self.budget(quick)) if budget == "t_end" else self.budget(quick))
        if self.trainer != "flow":  # the flow records at its events, not at a stride
            options.setdefault("record_every", self.record_every)
        return options

    def with_changes(self, **changes: Any) -> Experiment:
        """A copy with some fields replaced (e.g. ``init_scale=1e-4``)."""
        return replace(self, **changes)


#: Options :func:`~plateau_lib.trainers.stacked.train_gd_stack` takes (a run with others goes alone).
_STACKED_OPTIONS = frozenset({"lr", "steps", "record_every", "gtol"})


def run_stacked(runs: Sequence[tuple[Experiment, int]], *, quick: bool = False, **overrides: Any) -> list[TrainResult]:
    """``[experiment.run(seed, quick=quick, **overrides) for experiment, seed in runs]``, trained together.

    Gradient-descent runs that share the data, the width and the trainer's options (initial
    scales and seeds may differ) are trained as one stack by
    :func:`~plateau_lib.trainers.stacked.train_gd_stack`, which gives each run's result bit for
    bit (only the wall-clock times differ) in a fraction of the time; the other runs go alone.
    """
    runs = list(runs)
    results: list[TrainResult | None] = [None] * len(runs)
    stacks: dict[tuple, tuple[dict[str, Any], list[int]]] = {}  # key -> (trainer options, run indices)
    for index, pair in enumerate(runs):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Experiment)):
            raise TypeError(f"runs must hold (Experiment, seed) pairs, got {pair!r} at index {index}")
        experiment, seed = pair
        options = experiment.trainer_options(quick, **overrides)
        if experiment.trainer == "gd" and set(options) <= _STACKED_OPTIONS:
            key = (experiment.target, experiment.m, experiment.d, experiment.width, tuple(sorted(options.items())))
            stacks.setdefault(key, (options, []))[1].append(index)
        else:
            results[index] = experiment.run(seed, quick=quick, **overrides)
    for options, indices in stacks.values():
        X, y = runs[indices[0]][0].data()
        nets = [runs[i][0].initial_network(runs[i][1]) for i in indices]
        for i, result in zip(indices, train_gd_stack(nets, X, y, **options), strict=True):
            results[i] = result
    return results


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry under its name."""
    if experiment.name in _REGISTRY:
        raise ValueError(f"an experiment named {experiment.name!r} is already registered")
    _REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    """Look up a registered experiment by name."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def experiment_names() -> list[str]:
    """Names of all registered experiments, sorted."""
    return sorted(_REGISTRY)


register(Experiment(
    name="plateau_1d",
    description="sin(pi x), m = 41, n = 10, N(0, 1e-3^2) initialisation, GD step 0.1",
    target="sin_pi", m=41, d=1, width=10, init_scheme="normal", init_scale=1e-3,
    trainer="gd", options={"lr": 0.1}, steps=20_000, quick_steps=8_000, seed=5, record_every=10,
))
register(Experiment(
    name="multi_plateau_1d",
    description="sin(2 pi x), m = 101, n = 20, N(0, 1e-3^2) initialisation, GD step 0.1",
    target="sin_2pi", m=101, d=1, width=20, init_scheme="normal", init_scale=1e-3,
    trainer="gd", options={"lr": 0.1}, steps=40_000, quick_steps=20_000, seed=4, record_every=20,
))
register(Experiment(
    name="plateau_2d",
    description="|x1 + x2/2| + sin(pi x2)/2 on a 15 x 15 grid, n = 30, N(0, 1e-3^2), GD step 0.1",
    target="ridge_2d", m=225, d=2, width=30, init_scheme="normal", init_scale=1e-3,
    trainer="gd", options={"lr": 0.1}, steps=20_000, quick_steps=10_000, seed=0, record_every=20,
))
