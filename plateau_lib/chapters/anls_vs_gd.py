r"""Gradient descent against ANLS from the same initial network, over seeds (claim C5): Chapter 4's race in iterations.

The trainer is :func:`plateau_lib.trainers.anls.train_anls`; this module runs it beside gradient
descent and counts C5's iterations:

* :func:`gd_vs_anls` -- gradient descent and ANLS from the same initial network (:class:`GdVsAnls`);
* :func:`iteration_lead` and :func:`steps_to_reach` -- a loss ANLS reaches in :math:`k` sweeps and
  the steps gradient descent needs from the same network to reach it (:class:`IterationLead`);
* :func:`exit_study` and :func:`exit_summary` -- both races of the showcase over many seeds;
* the page of this study: what the notebook prints (:func:`race_report`), tabulates
  (:func:`exits_table`), saves beside its figure (:func:`gd_vs_anls_figure_data`) and glues into
  its prose (:func:`gd_vs_anls_values`, :func:`exit_values`, :func:`race_text`, :func:`exits_text`, ...).

The other studies of the chapter: :mod:`~plateau_lib.chapters.anls_sweep` (one sweep, pictured),
:mod:`~plateau_lib.chapters.anls_from_stationary`, :mod:`~plateau_lib.chapters.anls_variants`
and the wall-clock race :mod:`~plateau_lib.chapters.anls_race`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validation import check_positive_int
from ..experiments import get_experiment
from ..lower_bound import segmentation_lower_bound
from ..network import ShallowReLU
from ..parallel import ExecutorLike
from ..result import TrainResult, check_result
from ..sweeps import sweep
from ..trainers.anls import FTOL, FTOL_SWEEPS, preset_options, train_anls
from . import register_study
from .explanation_runs import PlateauRow, plateau_rows
from .page import FigureData, join_words, number, plural, relation, require_keys, rows_to_arrays, run_line, share
from .tables import markdown_table

FloatArray = NDArray[np.float64]


#: Sweep budget of the chapter's ANLS runs (the benchmark's full budget).
SWEEPS = 30


#: "Far fewer iterations": ANLS must get below gradient descent's final loss within this fraction
#: of gradient descent's steps (two orders of magnitude, the paper's "orders of magnitude").
FAR_FEWER = 0.01


#: The performance goals set for ANLS (``benchmark_goals``): median final loss within
#: ``GOAL_FACTOR`` times the best-known loss, and reaching ``GOAL_LEVEL`` times it at least
#: ``GOAL_SPEEDUP`` times faster than the fastest peer.
GOAL_FACTOR, GOAL_SPEEDUP, GOAL_LEVEL = 1.5, 10.0, 2.0


def first_reach(result: TrainResult, level: float) -> int | None:
    """The first recorded step (sweep, for ANLS) at which the loss is at most ``level``; None if never."""
    result = check_result(result)
    level = float(level)
    if not math.isfinite(level):
        raise ValueError(f"level must be finite, got {level!r}")
    hit = np.flatnonzero(result.loss <= level)
    return int(result.steps[hit[0]]) if hit.size else None


def showcase_plateau(rows: Sequence[PlateauRow]) -> PlateauRow:
    """The longest plateau (in steps) that gradient descent leaves and that does not start at step 0.

    Rows from :func:`~plateau_lib.chapters.explanation_runs.plateau_rows`; falls back to the longest of all if no
    plateau qualifies. Raises ValueError if ``rows`` is empty.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one plateau")
    eligible = [r for r in rows if r.exits and r.start > 0] or rows
    return max(eligible, key=lambda r: (r.end - r.start, -r.start))


def anls_joint_options(d: int) -> dict[str, Any]:
    """Options of ``anls-joint`` for input dimension ``d``: the preset ``"joint"``, the default of
    :func:`~plateau_lib.trainers.anls.train_anls` (:func:`~plateau_lib.trainers.anls.preset_options`)."""
    return preset_options("joint", d)


@dataclass(frozen=True)
class GdVsAnls:
    r"""Gradient descent and ANLS from the same initial network.

    Attributes
    ----------
    experiment : str
        Registered experiment (its data, initialisation, step size and budget).
    seed : int
        Seed of the initial network.
    initial : ShallowReLU
        The common initial network.
    gd : TrainResult
        The experiment's gradient-descent run.
    anls : TrainResult
        ``train_anls(initial, ..., sweeps=sweeps, preset="design", **options)``.
    plateaus : list of PlateauRow
        Gradient descent's plateaus (:func:`~plateau_lib.chapters.explanation_runs.plateau_rows`).
    lower_bound : float
        The segmentation lower bound of fact 5 (``n + 1`` pieces; NaN for ``d > 1``).
    options : dict
        The ANLS options used.
    """

    experiment: str
    seed: int
    initial: ShallowReLU
    gd: TrainResult
    anls: TrainResult
    plateaus: list[PlateauRow]
    lower_bound: float
    options: dict = field(default_factory=dict)

    @property
    def anls_sweeps_to_gd(self) -> int | None:
        """First sweep at which ANLS is at or below gradient descent's final loss (None: never)."""
        return first_reach(self.anls, self.gd.final_loss)

    @property
    def anls_nfev_to_gd(self) -> int | None:
        """Loss evaluations ANLS spent until then (None: never)."""
        k = self.anls_sweeps_to_gd
        return None if k is None else int(self.anls.extra["nfev_per_sweep"][k])

    @property
    def anls_time_to_gd(self) -> float:
        """Wall time ANLS spent until then (inf: never)."""
        hit = np.flatnonzero(self.anls.loss <= self.gd.final_loss)
        return float(self.anls.times[hit[0]]) if hit.size else math.inf

    def plateau_steps(self) -> float:
        """Steps gradient descent spends on its detected plateaus (the plateau at step 0 included)."""
        return float(sum(p.end - p.start for p in self.plateaus))


def gd_vs_anls(name: str = "plateau_1d", seed: int | None = None, *, quick: bool = False, sweeps: int = SWEEPS,
               **options: Any) -> GdVsAnls:
    """Run experiment ``name``'s gradient descent and ANLS (``options``) from the same initial network.

    ``seed`` defaults to the experiment's seed; gradient descent uses the experiment's budget
    (``quick``: its quick budget).
    """
    experiment = get_experiment(name)
    seed = experiment.seed if seed is None else check_positive_int(seed, "seed", allow_zero=True)
    sweeps = check_positive_int(sweeps, "sweeps")
    X, y = experiment.data()
    net = experiment.initial_network(seed)
    gd = experiment.run(seed, quick=quick, net=net)
    anls = train_anls(net, X, y, sweeps=sweeps, **{"preset": "design", **options})
    lb = segmentation_lower_bound(X, y, experiment.width + 1) if experiment.d == 1 else math.nan
    return GdVsAnls(experiment=name, seed=seed, initial=net, gd=gd, anls=anls,
                    plateaus=plateau_rows(gd, X, y, seed=seed), lower_bound=lb, options=dict(options))


def steps_to_reach(result: TrainResult, level: float, start: int = 0) -> int | None:
    """Steps from recorded step ``start`` until the loss is at most ``level``; None if not within the run.

    The count runs to the first recorded step at or after ``start`` whose loss is at most ``level``.
    Gradient descent records every ``record_every`` steps and at every pattern change, so the count is
    exact to within ``record_every - 1`` steps.

    Raises
    ------
    ValueError
        If ``level`` is not finite or ``start`` is not a recorded step of ``result``.
    """
    result = check_result(result)
    level = float(level)
    if not math.isfinite(level):
        raise ValueError(f"level must be finite, got {level!r}")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start not in result.steps:
        raise ValueError(f"start must be a recorded step of result, got {start!r}")
    after = result.steps >= start
    hit = np.flatnonzero(after & (result.loss <= level))
    return int(result.steps[hit[0]]) - int(start) if hit.size else None


@dataclass(frozen=True)
class IterationLead:
    r"""A loss ANLS reaches and the gradient-descent steps needed to reach it from the same network.

    Attributes
    ----------
    sweeps : int
        ANLS sweeps to reach ``loss`` (at least 1).
    loss : float
        The loss ANLS has after ``sweeps`` sweeps.
    gd_steps : int or None
        Gradient-descent steps from the same network to reach ``loss`` (:func:`steps_to_reach`); None:
        not within gradient descent's budget.
    gd_budget : int
        The steps gradient descent had left from that network.
    """

    sweeps: int
    loss: float
    gd_steps: int | None
    gd_budget: int

    @property
    def reached(self) -> bool:
        """Whether gradient descent reaches ``loss`` within its budget."""
        return self.gd_steps is not None

    @property
    def steps_needed(self) -> int:
        """Steps gradient descent needs: ``gd_steps``, or more than its budget (``gd_budget + 1``) if never."""
        return self.gd_budget + 1 if self.gd_steps is None else self.gd_steps

    @property
    def ratio(self) -> float:
        """``steps_needed / sweeps``: how many times more iterations gradient descent needs (a lower bound if
        it never gets there)."""
        return self.steps_needed / self.sweeps

    def orders_fewer(self, fraction: float = FAR_FEWER) -> bool:
        """C5's "orders of magnitude more iterations": ``sweeps <= fraction * steps_needed``."""
        return self.sweeps <= fraction * self.steps_needed


def iteration_lead(gd: TrainResult, anls: TrainResult, start: int = 0) -> IterationLead:
    r"""The ANLS sweep whose loss gradient descent needs the most steps per sweep to reach.

    ``anls`` starts from gradient descent's network at recorded step ``start`` (0: the same initial
    network); gradient descent continuing from ``start`` is the rest of ``gd``. For every recorded sweep
    :math:`k \ge 1` of ANLS the steps gradient descent needs to reach its loss are counted
    (:func:`steps_to_reach`); the sweep of largest ``steps_needed / k`` is returned (the first of equal ones).

    Raises
    ------
    ValueError
        If ``anls`` recorded no sweep after its start, or ``start`` is not a recorded step of ``gd``.
    """
    gd, anls = check_result(gd, "gd"), check_result(anls, "anls")
    sweeps = anls.steps[anls.steps >= 1]
    if not sweeps.size:
        raise ValueError("anls must record at least one sweep after its start")
    budget = int(gd.steps[-1]) - int(start)
    leads = [IterationLead(sweeps=int(k), loss=float(loss_k), gd_steps=steps_to_reach(gd, loss_k, start),
                           gd_budget=budget)
             for k, loss_k in zip(anls.steps, anls.loss, strict=True) if k >= 1]
    return max(leads, key=lambda lead: lead.ratio)


@dataclass(frozen=True)
class ExitSettings:
    r"""Settings of :func:`exit_study`: the showcase's measurements over seeds.

    Attributes
    ----------
    experiment : str
        Registered 1-D experiment (gradient descent's run, the initial networks).
    seeds, quick_seeds : int
        Seeds ``seed + k`` of the experiment, full and quick mode.
    sweeps : int
        Sweep budget of the ANLS runs from the initial network.
    """

    experiment: str = "plateau_1d"
    seeds: int = 20
    quick_seeds: int = 10
    sweeps: int = SWEEPS

    def __post_init__(self) -> None:
        if get_experiment(self.experiment).d != 1:
            raise ValueError(f"experiment must be 1-D (the sweep picture is 1-D), got {self.experiment!r}")
        for name in ("seeds", "quick_seeds", "sweeps"):
            check_positive_int(getattr(self, name), name)

    def n_seeds(self, quick: bool) -> int:
        """Seeds in quick or full mode."""
        return self.quick_seeds if quick else self.seeds


#: The chapter's study over seeds.
EXITS = register_study("anls_exits", ExitSettings())


@dataclass(frozen=True)
class ExitRow:
    r"""One seed of :func:`exit_study`: the showcase's two races on that seed.

    Attributes
    ----------
    seed : int
        Seed of the initial network.
    gd_final : float
        Gradient descent's final loss.
    plateau_level : float
        Level of the plateau the sweep starts on (:func:`showcase_plateau`).
    sweep : IterationLead
        One ANLS sweep from gradient descent's network in the middle of that plateau.
    race : IterationLead
        ANLS from the initial network (:func:`iteration_lead`).
    anls_final : float
        The final loss of that ANLS run.
    """

    seed: int
    gd_final: float
    plateau_level: float
    sweep: IterationLead
    race: IterationLead
    anls_final: float

    @property
    def sweep_below_gd(self) -> bool:
        """One sweep from the plateau ends below gradient descent's final loss."""
        return self.sweep.loss < self.gd_final

    @property
    def anls_below_gd(self) -> bool:
        """ANLS from the initial network ends below gradient descent's final loss."""
        return self.anls_final < self.gd_final


def exit_row(race: GdVsAnls) -> ExitRow:
    """The :class:`ExitRow` of a race: one sweep from its showcased plateau, and the race's lead."""
    X, y = get_experiment(race.experiment).data()
    plateau = showcase_plateau(race.plateaus)
    start = int(race.gd.steps[plateau.index])
    one = train_anls(race.gd.net_at(plateau.index), X, y, sweeps=1, preset="design")
    return ExitRow(seed=race.seed, gd_final=race.gd.final_loss, plateau_level=plateau.level,
                   sweep=iteration_lead(race.gd, one, start), race=iteration_lead(race.gd, race.anls),
                   anls_final=race.anls.final_loss)


def _exit_row(args: tuple[ExitSettings, int, bool]) -> ExitRow:
    settings, seed, quick = args
    return exit_row(gd_vs_anls(settings.experiment, seed, quick=quick, sweeps=settings.sweeps))


def exit_study(settings: ExitSettings | None = None, *, quick: bool = False, seed: int = 0,
               executor: ExecutorLike = 2, progress: bool = False) -> list[ExitRow]:
    """:func:`exit_row` for seeds ``experiment.seed + seed + k``, through :func:`~plateau_lib.sweeps.sweep`.

    The first row is the chapter's showcase (seed ``experiment.seed + seed``).
    """
    settings = EXITS if settings is None else settings
    if not isinstance(settings, ExitSettings):
        raise TypeError(f"settings must be an ExitSettings, got {type(settings).__name__}")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    first = get_experiment(settings.experiment).seed + seed
    items = [(settings, first + k, bool(quick)) for k in range(settings.n_seeds(quick))]
    return sweep(_exit_row, items, executor=executor, progress=progress, desc="ANLS over seeds")


@dataclass(frozen=True)
class ExitSummary:
    r"""Counts and medians of :func:`exit_study` rows.

    Attributes
    ----------
    runs : int
        Seeds.
    fraction : float
        The iteration fraction of C5's "orders of magnitude" (:meth:`IterationLead.orders_fewer`).
    sweep_leads, race_leads : int
        Runs whose one sweep from the plateau, whose ANLS run from the initial network, reaches a loss in at
        most ``fraction`` times the iterations gradient descent needs (the chapter's checks 2 and 1).
    sweep_below_gd, anls_below_gd : int
        Runs whose one sweep from the plateau, whose ANLS run, ends below gradient descent's final loss.
    gd_final_median, sweep_loss_median : float
        Medians over all runs of gradient descent's final loss and of the loss after the one sweep.
    above_seeds : tuple of int
        Seeds whose one sweep ends at or above gradient descent's final loss.
    above_weak, above_low : int
        Of those, the runs whose sweep ends above ``sweep_loss_median`` (a weak sweep), and those whose
        gradient descent ends below ``gd_final_median`` (a low gradient-descent loss).
    not_leading_seeds : tuple of int
        Seeds where the sweep or the race does not lead by ``fraction`` (empty if C5 holds on every run).
    min_sweep_ratio, min_race_ratio : float
        The smallest :attr:`IterationLead.ratio` of the sweeps and of the races.
    """

    runs: int
    fraction: float
    sweep_leads: int
    race_leads: int
    sweep_below_gd: int
    anls_below_gd: int
    gd_final_median: float
    sweep_loss_median: float
    above_seeds: tuple[int, ...]
    above_weak: int
    above_low: int
    not_leading_seeds: tuple[int, ...]
    min_sweep_ratio: float
    min_race_ratio: float


def exit_summary(rows: Sequence[ExitRow], fraction: float = FAR_FEWER) -> ExitSummary:
    """Summarise :func:`exit_study` rows (see :class:`ExitSummary`). Raises ValueError if ``rows`` is empty."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one run")
    fraction = float(fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    gd_median = float(np.median([r.gd_final for r in rows]))
    sweep_median = float(np.median([r.sweep.loss for r in rows]))
    above = [r for r in rows if not r.sweep_below_gd]
    return ExitSummary(
        runs=len(rows), fraction=fraction,
        sweep_leads=sum(r.sweep.orders_fewer(fraction) for r in rows),
        race_leads=sum(r.race.orders_fewer(fraction) for r in rows),
        sweep_below_gd=sum(r.sweep_below_gd for r in rows), anls_below_gd=sum(r.anls_below_gd for r in rows),
        gd_final_median=gd_median, sweep_loss_median=sweep_median, above_seeds=tuple(r.seed for r in above),
        above_weak=sum(r.sweep.loss > sweep_median for r in above),
        above_low=sum(r.gd_final < gd_median for r in above),
        not_leading_seeds=tuple(r.seed for r in rows
                                if not (r.sweep.orders_fewer(fraction) and r.race.orders_fewer(fraction))),
        min_sweep_ratio=min(r.sweep.ratio for r in rows), min_race_ratio=min(r.race.ratio for r in rows),
    )


def race_text(race: GdVsAnls, lead: IterationLead) -> str:
    """The race from the initial network in words: plateau levels, gradient descent's final loss, the lead."""
    gd, anls = race.gd, race.anls
    firsts = [np.flatnonzero(anls.loss < p.level) for p in race.plateaus]
    missed = [p.level for p, f in zip(race.plateaus, firsts, strict=True) if not f.size]
    if not missed:
        first = max((int(anls.steps[f[0]]) for f in firsts), default=0)
        plateaus = f"ANLS is below the level of every one of these plateaus after {plural(first, 'sweep')}"
    else:
        plateaus = (f"ANLS gets below the level of {len(race.plateaus) - len(missed)} of these "
                    f"{len(race.plateaus)} plateaus, never below the one at {min(missed):.2e}")
    k = race.anls_sweeps_to_gd
    to_gd = (f"below gradient descent's final loss after {plural(k, 'sweep')} ({race.anls_nfev_to_gd} loss evaluations "
             f"against gradient descent's {gd.nfev})" if k is not None else
             f"never below gradient descent's final loss ({anls.nfev} loss evaluations in all, against gradient "
             f"descent's {gd.nfev})")
    converged = anls.message.startswith("converged")
    stop = (f"stops after {plural(anls.nit, 'sweep')} at a fixed point of its update" if converged
            else f"ends after {plural(anls.nit, 'sweep')}")
    ratio = gd.final_loss / anls.final_loss if anls.final_loss < gd.final_loss else anls.final_loss / gd.final_loss
    end = (f"{ratio:.1f} times {relation(anls.final_loss, gd.final_loss)} gradient descent's final loss"
           if anls.final_loss != gd.final_loss else "equal to gradient descent's final loss")
    reach = (f"a loss gradient descent reaches only after {lead.gd_steps} steps, {lead.ratio:.0f} times as many "
             "iterations" if lead.reached else f"a loss gradient descent does not reach in its {lead.gd_budget} steps")
    return (f"{plateaus}, {to_gd}, and {stop} with loss {anls.final_loss:.2e}, {end}. After "
            f"{plural(lead.sweeps, 'sweep')} it is at {lead.loss:.2e}, {reach}.")


def race_time_text(race: GdVsAnls) -> str:
    """The race in wall time (machine-dependent: saved apart from the reference data)."""
    t = race.anls_time_to_gd
    if math.isfinite(t):
        return (f"In wall time, ANLS took {t:.3f} s to get below gradient descent's final loss, gradient descent "
                f"{race.gd.wall_time:.2f} s for its whole run.")
    return f"In wall time, ANLS took {race.anls.wall_time:.3f} s in all, gradient descent {race.gd.wall_time:.2f} s."


def exits_text(summary: ExitSummary) -> str:
    """The counts of :func:`exit_summary` in words, each statement chosen from the numbers."""
    s, n = summary, summary.runs
    need = round(1 / s.fraction)
    out = [
        f"On {share(s.sweep_leads, n)} one sweep from the plateau network reaches a loss that gradient descent, "
        f"continuing from the same network, needs at least {need} times as many steps to reach or never reaches "
        f"(the smallest ratio: {s.min_sweep_ratio:.0f}); ANLS from the initial network reaches a loss that gradient "
        f"descent needs at least {need} times as many iterations for on {share(s.race_leads, n)} (smallest ratio: "
        f"{s.min_race_ratio:.0f}).",
        ("C5, in the form checked below, holds on every seed measured." if not s.not_leading_seeds else
         f"C5, in the form checked below, fails on {plural(len(s.not_leading_seeds), 'seed')} "
         f"{join_words([str(k) for k in s.not_leading_seeds])}."),
        ("The stronger statements hold on every seed too" if s.sweep_below_gd == s.anls_below_gd == n else
         "The stronger statements do not hold on every seed")
        + f": one sweep from the plateau ends below gradient descent's final loss on {share(s.sweep_below_gd, n)}, "
        f"and ANLS's final loss is below gradient descent's on {share(s.anls_below_gd, n)}.",
    ]
    if s.above_seeds:
        k = len(s.above_seeds)
        out.append(
            f"Of the {plural(k, 'seed')} where one sweep ends at or above gradient descent's final loss "
            f"({join_words([str(v) for v in s.above_seeds])}), {s.above_weak} end the sweep above its median over "
            f"all seeds ({s.sweep_loss_median:.2e}: a weak sweep) and {s.above_low} have gradient descent end below "
            f"its median ({s.gd_final_median:.2e}: gradient descent lower than usual).")
    return " ".join(out)


def c5_verdict(summary: ExitSummary) -> str:
    """Whether ANLS left the plateau within one sweep on every seed of :func:`exit_study`, in words."""
    s = summary
    if s.sweep_leads == s.runs:
        return f"ANLS leaves the plateau within one sweep on all {s.runs} seeds measured above"
    return (f"ANLS leaves the plateau within one sweep on {s.sweep_leads} of the {s.runs} seeds measured above, "
            "not on every one")


def race_report(race: GdVsAnls, lead: IterationLead) -> str:
    """The race from the initial network: both runs, the lead, and when ANLS gets below each plateau.

    Parameters
    ----------
    race : GdVsAnls
        Gradient descent and ANLS from the same initial network.
    lead : IterationLead
        ``iteration_lead(race.gd, race.anls)``.

    Returns
    -------
    str
        One line per run, the lead, the race to gradient descent's final loss, and one line per plateau.
    """
    gd, anls = race.gd, race.anls
    lines = [
        run_line(anls),
        f"lead: at sweep {lead.sweeps} ANLS is at {lead.loss:.4g}; GD from the same network needs "
        f"{gd_needs_text(lead)} steps to get as low",
        f"ANLS below GD's final loss {gd.final_loss:.6f} at sweep {number(race.anls_sweeps_to_gd)} "
        f"({number(race.anls_nfev_to_gd)} loss evaluations, {race.anls_time_to_gd:.3f} s); "
        f"GD: {gd.nit} steps, {gd.wall_time:.3f} s",
    ]
    for p in race.plateaus:
        below = anls.steps[anls.loss < p.level]
        lines.append(f"GD plateau steps {p.start:.0f}-{p.end:.0f} at {p.level:.5f}: ANLS below it "
                     f"from sweep {below[0] if below.size else 'never'}")
    return "\n".join(lines)


def gd_needs_text(lead: IterationLead) -> str:
    """The steps gradient descent needs for ``lead``'s loss: ``"1234"``, or ``"more than 8000"`` if never."""
    return f"{lead.gd_steps}" if lead.reached else f"more than {lead.gd_budget}"


def exits_table(rows: Sequence[ExitRow]) -> str:
    """The rows of :func:`exit_study` as a Markdown table (one line per seed)."""

    def steps(lead: IterationLead) -> str:
        return f"{lead.gd_steps}" if lead.reached else f"> {lead.gd_budget}"

    header = ["seed", "GD final", "plateau", "one sweep", "GD steps to it", "ANLS sweeps: loss", "GD steps to it",
              "ANLS final"]
    return markdown_table(header, "r" * 8, (
        [r.seed, f"{r.gd_final:.2e}", f"{r.plateau_level:.4f}", f"{r.sweep.loss:.2e}", steps(r.sweep),
         f"{r.race.sweeps}: {r.race.loss:.2e}", steps(r.race), f"{r.anls_final:.2e}"] for r in rows))


def gd_vs_anls_figure_data(race: GdVsAnls) -> FigureData:
    """The race figure's data: both loss curves, gradient descent's counts and plateaus, and the wall times.

    Gradient descent's records are thinned to its regular grid (every ``record_every`` steps of the
    experiment); ANLS's counts are unchecked, the wall times go to ``timing``.
    """
    gd, anls = race.gd, race.anls
    grid = gd.steps % get_experiment(race.experiment).record_every == 0
    plateaus = {f"plateau_{k}": v for k, v in rows_to_arrays(race.plateaus).items()}
    return FigureData(
        arrays={"gd_step": gd.steps[grid], "gd_loss": gd.loss[grid], "gd_counts": gd.counts[grid],
                "anls_sweep": anls.steps, "anls_loss": anls.loss, "lower_bound": race.lower_bound, **plateaus},
        unchecked={"anls_counts": anls.counts},
        timing={"gd_time": gd.times[grid], "gd_loss": gd.loss[grid], "anls_time": anls.times,
                "anls_loss": anls.loss},
    )


def chapter_constants(joint_options: Mapping[str, Any]) -> dict[str, Any]:
    """The chapter's settings the prose quotes: the sweep budget, C5's fraction, the goals, the pair moves,
    the stopping rule ``ftol`` of a crawling run and its window of sweeps, the pattern solves in a row for d > 1.

    ``joint_options``: :func:`anls_joint_options` (its ``pair_moves``).
    """
    require_keys(joint_options, ("pair_moves",), "joint_options")
    return {"anls_budget": SWEEPS, "far_fewer": FAR_FEWER, "far_fewer_steps": round(1 / FAR_FEWER),
            "goal_factor": GOAL_FACTOR, "goal_speedup": GOAL_SPEEDUP, "goal_level": GOAL_LEVEL,
            "pair_moves": joint_options["pair_moves"], "ftol": FTOL, "ftol_sweeps": FTOL_SWEEPS,
            "pattern_steps_more": preset_options("joint", 2)["pattern_steps"]}


def gd_vs_anls_values(race: GdVsAnls) -> dict[str, Any]:
    """The numbers of the race from the initial network (wall times aside: :func:`race_time_text`)."""
    gd, anls = race.gd, race.anls
    return {
        "gd_steps": gd.nit, "gd_final": gd.final_loss, "gd_nfev": gd.nfev,
        "gd_plateau_steps": race.plateau_steps(), "gd_n_plateaus": len(race.plateaus),
        "anls_sweeps": anls.nit, "anls_final": anls.final_loss,
        "anls_lb_factor": anls.final_loss / race.lower_bound,
    }


def exit_values(rows: Sequence[ExitRow]) -> dict[str, Any]:
    """How many seeds :func:`exit_study` ran, and the first and last of them."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one run")
    return {"exit_runs": len(rows), "exit_first": rows[0].seed, "exit_last": rows[-1].seed}
