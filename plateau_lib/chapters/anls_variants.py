r"""The ANLS variants over seeds: global or bounded threshold moves, with or without gradient-descent polishing.

:func:`variant_study` runs every variant of :data:`VARIANT_NAMES` on the problems and seeds of
:class:`VariantSettings` (registered as the study ``anls_variants``) through
:func:`~plateau_lib.sweeps.sweep`; :func:`variant_summary` gives medians and quartiles. The page
of this study: :func:`variants_table`, :func:`variants_figure_data`, :func:`variant_values` and
:func:`variants_text`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int
from ..experiments import get_experiment
from ..lower_bound import segmentation_lower_bound
from ..parallel import ExecutorLike
from ..sweeps import sweep
from ..trainers.anls import train_anls
from . import register_study
from .anls_vs_gd import SWEEPS
from .page import FigureData, rows_to_arrays
from .tables import markdown_table

VARIANT_NAMES = ("global", "bounded", "global+polish", "bounded+polish")


@dataclass(frozen=True)
class VariantSettings:
    r"""Settings of :func:`variant_study`.

    Attributes
    ----------
    problems : tuple of str
        Registered 1-D experiments (data, width, initialisation; the polishing step is the
        experiment's gradient-descent step).
    seeds, quick_seeds : int
        Seeds per problem (``seed + k``), full and quick mode.
    sweeps : int
        Sweep budget of every run.
    bounded_moves : int
        ``bounded_moves`` of the bounded variants: the threshold moves by at most this many data
        points per update, keeping its orientation.
    polish_steps : int
        Gradient-descent steps after each sweep in the polished variants.
    """

    problems: tuple[str, ...] = ("plateau_1d", "multi_plateau_1d")
    seeds: int = 10
    quick_seeds: int = 4
    sweeps: int = SWEEPS
    bounded_moves: int = 2
    polish_steps: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.problems, tuple) or not self.problems:
            raise TypeError(f"problems must be a non-empty tuple of experiment names, got {self.problems!r}")
        for p in self.problems:
            if get_experiment(p).d != 1:
                raise ValueError(f"problems must be 1-D experiments (the lower bound is 1-D), got {p!r}")
        for name in ("seeds", "quick_seeds", "sweeps", "bounded_moves", "polish_steps"):
            check_positive_int(getattr(self, name), name)

    def n_seeds(self, quick: bool) -> int:
        """Seeds per problem in quick or full mode."""
        return self.quick_seeds if quick else self.seeds

    def options(self, variant: str, problem: str) -> dict[str, Any]:
        """ANLS options of ``variant`` on ``problem`` (polishing with the problem's GD step)."""
        return self.options_for(variant, float(get_experiment(problem).options.get("lr", 0.1)))

    def options_for(self, variant: str, lr: float) -> dict[str, Any]:
        """ANLS options of ``variant`` when polishing uses the gradient-descent step ``lr``."""
        if variant not in VARIANT_NAMES:
            raise ValueError(f"variant must be one of {', '.join(VARIANT_NAMES)}, got {variant!r}")
        out: dict[str, Any] = {"preset": "design"}
        if variant.startswith("bounded"):
            out["bounded_moves"] = self.bounded_moves
        if variant.endswith("+polish"):
            out["polish_steps"] = self.polish_steps
            out["polish_lr"] = float(lr)
        return out


#: The chapter's variant study.
VARIANTS = register_study("anls_variants", VariantSettings())


@dataclass(frozen=True)
class VariantRow:
    r"""One ANLS run of :func:`variant_study`.

    ``curve`` is the loss after each sweep ``0..sweeps`` (held at the final value after the run
    stops); ``ratio_to_lower_bound`` is ``final_loss / lower_bound``; ``wall_time`` is the only
    machine-dependent field.
    """

    problem: str
    variant: str
    seed: int
    final_loss: float
    lower_bound: float
    ratio_to_lower_bound: float
    sweeps: int
    nfev: int
    njev: int
    pattern_changes: int
    converged: bool
    wall_time: float
    curve: tuple[float, ...]


def _variant_row(args: tuple[VariantSettings, str, str, int]) -> VariantRow:
    settings, problem, variant, seed = args
    experiment = get_experiment(problem)
    X, y = experiment.data()
    net = experiment.initial_network(seed)
    res = train_anls(net, X, y, sweeps=settings.sweeps, **settings.options(variant, problem))
    lb = segmentation_lower_bound(X, y, experiment.width + 1)
    curve = np.full(settings.sweeps + 1, res.final_loss)
    curve[res.steps] = res.loss
    return VariantRow(
        problem=problem, variant=variant, seed=seed, final_loss=res.final_loss, lower_bound=lb,
        ratio_to_lower_bound=res.final_loss / lb if lb > 0 else math.inf, sweeps=res.nit, nfev=res.nfev,
        njev=res.njev, pattern_changes=len(res.pattern_changes), converged=res.message.startswith("converged"),
        wall_time=res.wall_time, curve=tuple(float(v) for v in curve),
    )


def variant_study(settings: VariantSettings | None = None, *, quick: bool = False, seed: int = 0,
                  executor: ExecutorLike = 2, progress: bool = False) -> list[VariantRow]:
    """Every variant of ``settings`` on every problem and seed ``seed + k``, through :func:`~plateau_lib.sweeps.sweep`.

    Each run starts from the problem's own small initialisation
    (:meth:`~plateau_lib.experiments.Experiment.initial_network`); rows are ordered by problem,
    variant, seed.
    """
    settings = VARIANTS if settings is None else settings
    if not isinstance(settings, VariantSettings):
        raise TypeError(f"settings must be a VariantSettings, got {type(settings).__name__}")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    items = [(settings, p, v, seed + k) for p in settings.problems for v in VARIANT_NAMES
             for k in range(settings.n_seeds(quick))]
    return sweep(_variant_row, items, executor=executor, progress=progress, desc="ANLS variants")


def variant_summary(rows: Sequence[VariantRow]) -> list[dict[str, Any]]:
    """Per (problem, variant): seeds, median / quartiles of the final loss and of its ratio to the lower bound,
    median sweeps and loss evaluations, and the median loss curve over sweeps (with quartiles)."""
    out = []
    keys = list(dict.fromkeys((r.problem, r.variant) for r in rows))
    for problem, variant in keys:
        sel = [r for r in rows if r.problem == problem and r.variant == variant]
        final = np.array([r.final_loss for r in sel])
        ratio = np.array([r.ratio_to_lower_bound for r in sel])
        curves = np.array([r.curve for r in sel])
        q = np.percentile(curves, [25, 50, 75], axis=0)
        out.append({
            "problem": problem, "variant": variant, "seeds": len(sel),
            "final_median": float(np.median(final)), "final_q25": float(np.percentile(final, 25)),
            "final_q75": float(np.percentile(final, 75)), "ratio_median": float(np.median(ratio)),
            "ratio_q25": float(np.percentile(ratio, 25)), "ratio_q75": float(np.percentile(ratio, 75)),
            "sweeps_median": float(np.median([r.sweeps for r in sel])),
            "nfev_median": float(np.median([r.nfev for r in sel])),
            "curve_q25": q[0], "curve_median": q[1], "curve_q75": q[2],
        })
    return out


def variants_table(summary: Sequence[Mapping[str, Any]]) -> str:
    """:func:`variant_summary` as a Markdown table (one line per problem and variant)."""
    header = ["problem", "variant", "final loss: median [quartiles]", "/ lower bound (median)", "sweeps (median)",
              "loss evaluations (median)"]
    return markdown_table(header, "lllrrr", (
        [f"`{s['problem']}`", s["variant"], f"{s['final_median']:.2e} [{s['final_q25']:.2e}, {s['final_q75']:.2e}]",
         f"{s['ratio_median']:.1f}", f"{s['sweeps_median']:.0f}", f"{s['nfev_median']:.0f}"] for s in summary))


def variants_figure_data(summary: Sequence[Mapping[str, Any]], rows: Sequence[VariantRow]) -> FigureData:
    """The variants figure's data (all unchecked): the median curves and the rows' columns (``row_*``).

    The rows' curves and wall times are left out (the curves' medians are saved, the times are the
    machine's).
    """
    data = {f"{s['problem']}_{s['variant'].replace('+', '_')}": s["curve_median"] for s in summary}
    columns = rows_to_arrays(rows)
    columns.pop("curve", None)
    columns.pop("wall_time", None)
    return FigureData(unchecked=data | {f"row_{k}": v for k, v in columns.items()})


def variant_values(settings: VariantSettings, quick: bool) -> dict[str, Any]:
    """The settings of the variant study the prose quotes, and the size of ``multi_plateau_1d``."""
    if not isinstance(settings, VariantSettings):
        raise TypeError(f"settings must be a VariantSettings, got {type(settings).__name__}")
    multi = get_experiment("multi_plateau_1d")
    return {"bounded_k": settings.bounded_moves, "polish_steps": settings.polish_steps,
            "var_seeds": settings.n_seeds(quick), "var_sweeps": settings.sweeps,
            "n_multi": multi.width, "m_multi": multi.m}


def _variant_median(summary: Sequence[Mapping[str, Any]], problem: str, variant: str) -> float:
    for s in summary:
        if s["problem"] == problem and s["variant"] == variant:
            return s["ratio_median"]
    raise ValueError(f"summary has no variant {variant!r} on {problem!r}")


def unchanged_by_polish(rows: Sequence[VariantRow], problem: str) -> int:
    """Polished runs of ``problem`` that end exactly where the unpolished run of the same seed ends."""
    return sum(r.final_loss == q.final_loss for r in rows for q in rows
               if r.problem == q.problem == problem and r.seed == q.seed and q.variant == r.variant + "+polish")


def variants_text(rows: Sequence[VariantRow], summary: Sequence[Mapping[str, Any]], settings: VariantSettings,
                  quick: bool) -> str:
    """The variant study in words: each problem's median ratios, the polishing that changed nothing, the best.

    Parameters
    ----------
    rows, summary
        :func:`variant_study` and :func:`variant_summary` of ``settings``.
    settings : VariantSettings
        The study's settings (its problems; ``quick`` selects the seed count).
    quick : bool
        The mode the study ran in.
    """
    if not summary:
        raise ValueError("summary must hold at least one variant")
    lines = []
    for problem in settings.problems:
        g, b, gp, bp = (_variant_median(summary, problem, v) for v in VARIANT_NAMES)
        lines.append(
            f"On `{problem}` the median final loss is {g:.1f} times the lower bound with the global search and "
            f"{b:.1f} times with bounded moves; with polishing {gp:.1f} and {bp:.1f} times. There "
            f"{unchanged_by_polish(rows, problem)} of the {2 * settings.n_seeds(quick)} polished runs end exactly "
            "where the unpolished run of the same seed ends: every one of their polishing steps was rejected (a "
            "step is kept only if it lowers the loss).")
    global_better = all(_variant_median(summary, p, "global") <= _variant_median(summary, p, "bounded")
                        for p in settings.problems)
    best = min(summary, key=lambda s: s["ratio_median"])
    return (" ".join(lines)
            + (" Bounding the moves does not help on either problem: a neuron that may move its threshold only a "
               "few points at a time stops sooner at a fixed point of the bounded update. " if global_better
               else " Neither search is better on both problems. ")
            + f"The best of these medians is {best['ratio_median']:.1f} times the lower bound ({best['variant']} "
            f"on `{best['problem']}`); the additions of `anls-joint` do better (previous section and the benchmark).")
