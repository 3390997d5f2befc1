r"""The race: ANLS against its peers at equal wall time, with restarts, on tuning and held-out problems.

Why a race. A budget in *steps* favours whichever method does the least per step; a single run
from one initialisation hides how often a method lands in a poor local minimum. Here every
method gets the same wall-clock budget :math:`T_p` on problem :math:`p`, and inside it restarts
from fresh initialisations whenever a run ends (its own stopping rule, or its per-run cap
:data:`RUN_CAPS`), reporting the best loss found so far. What is measured per (problem,
method, race seed):

- the best-so-far curve :math:`t \mapsto \min\{L \text{ recorded by time } t\}` on
  :math:`[0, T_p]`: every run gets the time left as its ``time_limit`` (the trainers stop at
  their next iteration past it) and only what it recorded by :math:`T_p` counts;
- the best loss at the budget, and the first times at which the best-so-far reaches
  :math:`2L_\star` and :math:`1.1L_\star` (:math:`L_\star`: the best-known loss).

Restarts. Restart :math:`k` of race seed :math:`s` on problem :math:`p` starts from the network
drawn by ``default_rng([s, k, crc32(p.name)])`` with the initialisation :data:`RESTART_SCHEMES`
``[k mod 3]``: small scale (:math:`\mathcal N(0, 10^{-6})`, the paper's regime), unit scale, and
uniform breakpoints in 1-D (lazy in :math:`d > 1`). Every method sees the same sequence of
initial networks, and the task's key alone fixes its seeds, so a task gives the same losses on
any executor (only the times differ).

Problems (:data:`TUNING`, :data:`HELD_OUT`). The *tuning* problems are the six problems of the
step-budget benchmark (:mod:`plateau_lib.chapters.anls_benchmark`), on which the ANLS options
of the default preset ``"joint"`` of :func:`~plateau_lib.trainers.anls.train_anls` and the gradient
descent and Adam step sizes (:func:`tune_step_sizes`) were chosen. The *held-out* problems were
fixed before any option was chosen on them and are never used to choose one: two targets for
each of :math:`d = 1, 2, 3, 5`, random (non-equispaced) points, most with noise, :math:`m` from 40
to :math:`10^4`, widths from 6 to 200; and two larger ones, added for issue 28 with their budgets
before the race was rerun: ``chirp_1d`` (:math:`m = 10^5`, :math:`n = 100`) and ``interact_6d``
(:math:`m = 2\cdot 10^4`, :math:`d = 6`, :math:`n = 100`), 20 s each.

Best-known losses (:func:`best_known`). The smallest loss seen in every run of the race (which
method, race seed and restart found it) and in dedicated restarts (LM from random breakpoints
or lazy initialisations, and the default ANLS followed by LM;
``anls_benchmark.run_restart``; each phase stopped after :data:`OUTSIDE_BUDGET_FACTOR` budgets),
with the counts of both; in 1-D
the exact segmentation lower bound (fact 5) beside it where :math:`m \le 2000`. The results
record a fingerprint of the trainers' source code (:func:`trainers_fingerprint`): results made
by other code are stale.

Run::

    python -m plateau_lib bench race [--quick] [--seeds 3] [--output DIR]

The committed results and Chapter 4's page of them are in
:mod:`~plateau_lib.chapters.anls_race_results`. Why this module is about 650 lines: it is the
race's one pipeline (problems, methods, a task, step-size tuning, best-known losses, the runner
and its summaries and goals), whose parts share the problem and task classes.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..lower_bound import segmentation_lower_bound
from ..machine import library_versions, machine_record
from ..network import init_network
from ..parallel import ExecutorLike, opened, worker_count
from ..sweeps import sweep
from ..targets import grid, target_values
from ..trainers import train, train_anls
from . import register_study
from .anls_benchmark import FLOOR_RTOL, RestartTask, _quartiles, run_restart
from .anls_benchmark import PROBLEMS as BENCH_PROBLEMS

FloatArray = np.ndarray


# ----------------------------------------------------------------------------- held-out targets


def _pwl_1d(X: FloatArray) -> FloatArray:
    x = X[:, 0]
    return np.abs(x + 0.1) - 2 * np.maximum(x - 0.4, 0) + 0.5 * np.maximum(-0.6 - x, 0)


#: Targets of the held-out problems (name -> (d, function of the rows of X)).
HELD_OUT_TARGETS = {
    "cos_ramp_1d": (1, lambda X: np.cos(3 * X[:, 0]) + 0.5 * X[:, 0]),
    "kinks_1d": (1, _pwl_1d),
    "tanh_step_1d": (1, lambda X: np.tanh(5 * X[:, 0])),
    "wave_packet_1d": (1, lambda X: np.sin(6 * X[:, 0]) * np.exp(-X[:, 0] ** 2)),
    "gauss_2d": (2, lambda X: np.exp(-3 * np.sum(X * X, axis=1))),
    "saddle_2d": (2, lambda X: X[:, 0] * X[:, 1] + 0.3 * np.sin(2 * X[:, 0])),
    "ridge_3d": (3, lambda X: np.tanh(2 * (X @ np.array([0.6, -0.8, 0.3])))),
    "radial_3d": (3, lambda X: np.sqrt(np.sum(X * X, axis=1))),
    "sum_sin_5d": (5, lambda X: np.mean(np.sin(2 * X), axis=1)),
    "mixed_5d": (5, lambda X: np.maximum(X[:, 0], 0) * X[:, 1] + X[:, 2] * X[:, 3] - 0.5 * X[:, 4] ** 2),
    # the two larger problems of issue 28 (added, with their budgets, before the race rerun)
    "chirp_1d": (1, lambda X: np.sin(2 * np.pi * (X[:, 0] + 1) ** 2) + 0.3 * X[:, 0]),
    "interact_6d": (6, lambda X: np.tanh(X[:, 0] + X[:, 1]) * np.cos(X[:, 2])
                    + 0.5 * np.maximum(X[:, 3] - X[:, 4], 0) - 0.2 * X[:, 5] ** 2),
}


# ----------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class RaceProblem:
    """One problem of the race: data, width, budget and role.

    ``points="grid"`` places the ``m`` points on the equispaced grid of :math:`[-1, 1]^d`,
    ``"uniform"`` draws them uniformly from ``default_rng(data_seed)``, which then also draws
    the noise :math:`\\varepsilon_i \\sim \\mathcal N(0, \\text{noise}^2)` added to the target.
    ``budget`` is the wall-clock budget :math:`T_p` in seconds of each method and race seed.
    """

    name: str
    role: str
    target: str
    m: int
    d: int
    width: int
    budget: float
    points: str = "grid"
    noise: float = 0.0
    data_seed: int = 0
    init_scale: float = 1e-3
    init_scheme: str = "normal"

    def data(self) -> tuple[FloatArray, FloatArray]:
        """The inputs ``X`` (m, d) and targets ``y`` (m,)."""
        if self.points == "grid":
            X = grid(self.m, self.d)
            rng = np.random.default_rng(self.data_seed)
        else:
            rng = np.random.default_rng(self.data_seed)
            X = rng.uniform(-1.0, 1.0, (self.m, self.d))
        if self.target in HELD_OUT_TARGETS:
            y = HELD_OUT_TARGETS[self.target][1](X)
        else:
            y = target_values(self.target, X)
        if self.noise > 0:
            y = y + self.noise * rng.standard_normal(self.m)
        return X, y

    def key(self) -> dict[str, Any]:
        """What a best-known loss of this problem depends on."""
        return {k: getattr(self, k) for k in ("target", "m", "d", "width", "points", "noise", "data_seed")}


def _tuning(name: str, budget: float) -> RaceProblem:
    """The benchmark problem ``name`` (grid points, no noise, its own initialisation) as a tuning problem."""
    b = next(q for q in BENCH_PROBLEMS if q.name == name)
    return RaceProblem(b.name, "tuning", b.target, b.m, b.d, b.width, budget,
                       init_scale=b.init_scale, init_scheme=b.init_scheme)


#: Tuning problems: the six problems of the step-budget benchmark (options were chosen on them).
TUNING: tuple[RaceProblem, ...] = tuple(_tuning(name, budget) for name, budget in (
    ("plateau_1d", 1.5), ("multi_plateau_1d", 1.5), ("sin_3pi_1d", 2.0), ("bump_1d", 1.0),
    ("plateau_2d", 2.0), ("pyramid_2d", 3.0)))
#: Held-out problems: fixed before any option was chosen, never used to choose one.
HELD_OUT: tuple[RaceProblem, ...] = (
    RaceProblem("cos_ramp_1d", "held-out", "cos_ramp_1d", 61, 1, 12, 1.5, "uniform", 0.0, 11),
    RaceProblem("kinks_1d", "held-out", "kinks_1d", 80, 1, 8, 1.5, "uniform", 0.05, 12),
    RaceProblem("tanh_step_1d", "held-out", "tanh_step_1d", 40, 1, 6, 1.0, "uniform", 0.02, 13),
    RaceProblem("wave_packet_1d", "held-out", "wave_packet_1d", 10_000, 1, 200, 15.0, "uniform", 0.02, 14),
    RaceProblem("gauss_2d", "held-out", "gauss_2d", 400, 2, 20, 3.0, "uniform", 0.01, 21),
    RaceProblem("saddle_2d", "held-out", "saddle_2d", 2000, 2, 50, 6.0, "uniform", 0.02, 22),
    RaceProblem("ridge_3d", "held-out", "ridge_3d", 1000, 3, 40, 5.0, "uniform", 0.01, 31),
    RaceProblem("radial_3d", "held-out", "radial_3d", 3000, 3, 80, 10.0, "uniform", 0.0, 32),
    RaceProblem("sum_sin_5d", "held-out", "sum_sin_5d", 2000, 5, 60, 8.0, "uniform", 0.02, 51),
    RaceProblem("mixed_5d", "held-out", "mixed_5d", 10_000, 5, 100, 15.0, "uniform", 0.01, 52),
    # larger than any problem before (issue 28): m = 10^5 in 1-D, and m = 2 10^4 in d = 6; their
    # targets, sizes and 20 s budgets fixed before the rerun of the race and before any choice.
    RaceProblem("chirp_1d", "held-out", "chirp_1d", 100_000, 1, 100, 20.0, "uniform", 0.02, 15),
    RaceProblem("interact_6d", "held-out", "interact_6d", 20_000, 6, 100, 20.0, "uniform", 0.01, 61),
)
PROBLEMS = TUNING + HELD_OUT


# ----------------------------------------------------------------------------- methods


#: Every method of the race; ``anls`` is ``train_anls`` with its defaults (the preset ``"joint"``),
#: ``anls-design`` with the preset ``"design"``.
METHODS = ("gd", "adam", "lbfgs", "lm", "varpro", "oga", "anls", "anls-design")
#: The methods of the full race (``anls-design`` is shown in the chapter's earlier sections).
RACE_METHODS = ("gd", "adam", "lbfgs", "lm", "varpro", "oga", "anls")
#: The peers ANLS races against (the goals compare ``anls`` with these).
PEERS = ("gd", "adam", "lbfgs", "lm", "varpro", "oga")
#: Per-run caps (iterations, sweeps); a run that reaches its cap ends and the method restarts.
RUN_CAPS = {"gd": 20_000, "adam": 20_000, "lbfgs": 2_000, "lm": 300, "varpro": 300, "anls": 50, "anls-design": 50}
#: Record every this many steps of gradient descent and Adam.
FIRST_ORDER_RECORD_EVERY = 10
#: Initialisation of restart k: RESTART_SCHEMES[k % 3] as (scheme, scale); "breakpoints"
#: means "uniform_breakpoints" in 1-D and "lazy" in d > 1.
RESTART_SCHEMES = (("normal", 1e-3), ("normal", 1.0), ("breakpoints", 1.0))
#: Step-size grids of gradient descent and Adam (:func:`tune_step_sizes` picks one of each).
STEP_GRIDS = {"gd": (1e-3, 1e-2, 1e-1, 1.0), "adam": (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)}
#: Steps of each step-size tuning run.
TUNING_STEPS = 5_000
#: An improvement of the best-so-far is stored as an event only if it is at least this relative
#: amount below the last stored one (so first-reach times of a level are exact to this factor).
EVENT_RTOL = 1e-3
#: Loss levels (multiples of the best-known loss) whose first-reach time is reported.
LEVELS = (2.0, 1.1)


def restart_network(problem: RaceProblem, seed: int, restart: int):
    """The initial network of restart ``restart`` of race seed ``seed`` (module docstring)."""
    scheme, scale = RESTART_SCHEMES[restart % len(RESTART_SCHEMES)]
    if scheme == "breakpoints":
        scheme = "uniform_breakpoints" if problem.d == 1 else "lazy"
    rng = np.random.default_rng([seed, restart, zlib.crc32(problem.name.encode())])
    return init_network(problem.width, problem.d, scale=scale, rng=rng, scheme=scheme), rng


def run_once(method: str, problem: RaceProblem, net, X, y, rng: np.random.Generator,
             step_sizes: dict[str, float], cap: int | None = None, time_limit: float | None = None):
    """One run of ``method`` from ``net`` to its own stopping rule, its cap or ``time_limit`` seconds."""
    cap = RUN_CAPS.get(method) if cap is None else cap
    limit = {"time_limit": time_limit}
    if method in ("gd", "adam"):
        return train(net, X, y, method, budget=cap, lr=step_sizes[method], record_every=FIRST_ORDER_RECORD_EVERY,
                     **limit)
    if method == "lbfgs":
        return train(net, X, y, "lbfgs", budget=cap, **limit)
    if method == "lm":
        return train(net, X, y, "lm", budget=cap, algorithm="trf", **limit)
    if method == "varpro":
        return train(net, X, y, "varpro", budget=cap, **limit)
    if method == "oga":
        return train(net, X, y, "oga", rng=rng, **limit)
    if method == "anls":
        return train_anls(net, X, y, sweeps=cap, **limit)  # the default: the strongest reading
    if method == "anls-design":
        return train_anls(net, X, y, sweeps=cap, preset="design", **limit)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


# ----------------------------------------------------------------------------- one race task


@dataclass(frozen=True)
class RaceTask:
    """Method ``method`` on ``problem`` with race seed ``seed`` for ``budget`` seconds."""

    problem: RaceProblem
    method: str
    seed: int
    budget: float
    step_sizes: dict[str, float] = field(default_factory=dict)


def run_race_task(task: RaceTask) -> dict[str, Any]:
    """Restart ``task.method`` until the budget is spent; the best-so-far events and the runs.

    Returns a dict with ``events`` (pairs (time, best loss so far), one per improvement),
    ``runs`` (restart, start and end time, final loss, whether the budget cut it) and ``best``
    (loss, restart) -- the best loss seen by the budget and the restart that found it.
    """
    p = task.problem
    X, y = p.data()
    floor = FLOOR_RTOL * float(y @ y) / (2 * p.m)
    _warm_up(task.method, p.d, task.step_sizes)
    events: list[tuple[float, float]] = []
    runs: list[dict[str, Any]] = []
    best, best_restart = math.inf, -1
    clock = time.perf_counter()
    restart = 0
    while best > floor:
        net, rng = restart_network(p, task.seed, restart)
        offset = time.perf_counter() - clock
        if offset >= task.budget:
            break
        res = run_once(task.method, p, net, X, y, rng, task.step_sizes, time_limit=task.budget - offset)
        t = offset + np.asarray(res.times)
        loss = np.asarray(res.loss, dtype=float)
        ok = (t <= task.budget) & np.isfinite(loss)
        for ti, li in zip(t[ok], loss[ok], strict=True):
            if li < best:
                best, best_restart = float(li), restart
                if not events or best < events[-1][1] * (1 - EVENT_RTOL):
                    events.append((float(ti), best))
        end = offset + res.wall_time
        runs.append({"restart": restart, "start": offset, "end": end, "final_loss": float(res.final_loss),
                     "cut": bool(end > task.budget), "status": res.status})
        restart += 1
    return {"problem": p.name, "role": p.role, "d": p.d, "method": task.method, "seed": task.seed,
            "budget": task.budget, "events": events, "runs": runs, "restarts": len(runs),
            "best": best, "best_restart": best_restart}


def _warm_up(method: str, d: int, step_sizes: dict[str, float]) -> None:
    """Run ``method`` once on a tiny problem, so that lazy imports are not charged to the race."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (8, d))
    net = init_network(3, d, scale=1.0, rng=rng)
    tiny = RaceProblem("warm-up", "tuning", "", 8, d, 3, 0.0)
    run_once(method, tiny, net, X, X[:, 0], rng, step_sizes, cap=2)


def best_so_far(events: Sequence[Sequence[float]], times: FloatArray) -> FloatArray:
    """The best loss so far at each of ``times`` (``inf`` before the first record)."""
    out = np.full(len(times), math.inf)
    if len(events):
        ev = np.asarray(events, dtype=float)
        k = np.searchsorted(ev[:, 0], times, side="right") - 1
        out = np.where(k >= 0, ev[np.maximum(k, 0), 1], math.inf)
    return out


def first_time_below(events: Sequence[Sequence[float]], level: float) -> float:
    """First time the best-so-far is at most ``level`` (``inf`` if never within the budget)."""
    for t, loss in events:
        if loss <= level:
            return float(t)
    return math.inf


# ----------------------------------------------------------------------------- step sizes


@dataclass(frozen=True)
class StepTask:
    problem: RaceProblem
    method: str
    lr: float
    restart: int


def run_step_task(task: StepTask) -> float:
    """Final loss of ``TUNING_STEPS`` steps of ``task.method`` at step size ``task.lr``."""
    X, y = task.problem.data()
    net, rng = restart_network(task.problem, 0, task.restart)
    res = run_once(task.method, task.problem, net, X, y, rng, {task.method: task.lr}, cap=TUNING_STEPS)
    return float(res.final_loss) if math.isfinite(res.final_loss) else math.inf


def tune_step_sizes(problems: Sequence[RaceProblem], *, executor: ExecutorLike = 2,
                    progress: bool = True) -> dict[str, Any]:
    r"""Pick the step sizes of gradient descent and Adam on the tuning problems.

    For each method and each step size :math:`\eta` of :data:`STEP_GRIDS`, run
    :data:`TUNING_STEPS` steps from the three initialisations of :data:`RESTART_SCHEMES` on every
    problem; score :math:`\eta` by the median over (problem, initialisation) of
    :math:`\log_{10}(L_{\text{final}} / L_{\min})`, where :math:`L_{\min}` is the smallest final
    loss any step size reached there; the lowest score wins (a diverging run scores
    :math:`+\infty`).
    """
    if any(p.role != "tuning" for p in problems):
        raise ValueError("step sizes are chosen on tuning problems only")
    tasks = [StepTask(p, method, lr, k) for method, lrs in STEP_GRIDS.items() for lr in lrs
             for p in problems for k in range(len(RESTART_SCHEMES))]
    losses = sweep(run_step_task, tasks, executor=executor, progress=progress, desc="race: step sizes")
    table: dict[str, Any] = {}
    for method, lrs in STEP_GRIDS.items():
        cells = {(p.name, k): [] for p in problems for k in range(len(RESTART_SCHEMES))}
        for t, v in zip(tasks, losses, strict=True):
            if t.method == method:
                cells[(t.problem.name, t.restart)].append((t.lr, v))
        scores = {}
        for lr in lrs:
            logs = []
            for cell in cells.values():
                low = min(v for _, v in cell)
                v = dict(cell)[lr]
                logs.append(math.inf if not math.isfinite(v) else math.log10(max(v, 1e-300) / max(low, 1e-300)))
            scores[lr] = float(np.median(logs))
        table[method] = {"chosen": min(lrs, key=lambda lr: (scores[lr], lr)), "scores": scores}
    return table


# ----------------------------------------------------------------------------- best known


#: LM iterations of a dedicated restart (``anls_benchmark.RestartTask``);
#: on problems with m * n above DEDICATED_SMALL (where one iteration factorises a Jacobian of m
#: rows and n (d + 2) columns) only DEDICATED_LM_STEPS_LARGE, and there no LM restarts from
#: random networks (the race runs many of those already).
DEDICATED_LM_STEPS = 1000
DEDICATED_LM_STEPS_LARGE = 20
DEDICATED_SMALL = 50_000


#: Dedicated restarts and single ANLS runs (outside the race) stop after this many budgets
#: :math:`T_p` of wall time (each phase of a dedicated ANLS-then-LM restart separately).
OUTSIDE_BUDGET_FACTOR = 2.0


def dedicated_tasks(problems: Sequence[RaceProblem], restarts: int) -> list[RestartTask]:
    """The dedicated restarts of the best-known search: the step-budget benchmark's restarts."""
    return [RestartTask(p, kind, i, lm_steps=DEDICATED_LM_STEPS if p.m * p.width <= DEDICATED_SMALL
                        else DEDICATED_LM_STEPS_LARGE, time_limit=OUTSIDE_BUDGET_FACTOR * p.budget)
            for p in problems for kind in ("lm", "anls+lm") for i in range(restarts)
            if kind == "anls+lm" or p.m * p.width <= DEDICATED_SMALL]


def best_known(problems: Sequence[RaceProblem], rows: Sequence[dict[str, Any]],
               candidates: Sequence[tuple[str, float, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Best-known loss per problem, with where it came from (module docstring).

    ``candidates`` are (problem name, loss, provenance) of the runs outside the race (dedicated
    restarts, single ANLS runs).
    """
    out = {}
    for p in problems:
        X, y = p.data()
        zero = float(y @ y) / (2 * p.m)
        race = [r for r in rows if r["problem"] == p.name]
        cands = [(r["best"], {"found_by": "race", "method": r["method"], "seed": r["seed"],
                              "restart": r["best_restart"]}) for r in race]
        extra = [(v, where) for name, v, where in candidates if name == p.name]
        loss, where = min(cands + extra, key=lambda c: c[0])
        entry = {**p.key(), "best_known": float(loss), **where, "zero_loss": zero,
                 "reference": max(float(loss), FLOOR_RTOL * zero),
                 "race_runs": int(sum(r["restarts"] for r in race)), "other_runs": len(extra)}
        if p.d == 1 and p.m <= LOWER_BOUND_MAX_M:
            entry["lower_bound"] = segmentation_lower_bound(X[:, 0], y, p.width + 1)
        out[p.name] = entry
    return out


#: The segmentation lower bound costs O(pieces m^2): computed for m up to this.
LOWER_BOUND_MAX_M = 2000


# ----------------------------------------------------------------------------- the whole race


@dataclass(frozen=True)
class RaceSuite:
    """Problems, race seeds, methods, dedicated restarts and a budget scale of one race."""

    name: str
    problems: tuple[RaceProblem, ...]
    seeds: tuple[int, ...]
    methods: tuple[str, ...] = METHODS
    dedicated_restarts: int = 3
    budget_scale: float = 1.0
    single_runs: int = 3


FULL_RACE = register_study("anls_race", RaceSuite("full", PROBLEMS, (0, 1, 2), methods=RACE_METHODS))
QUICK_RACE = register_study("anls_race_quick", RaceSuite(
    "quick", (TUNING[0], HELD_OUT[1]), (0,), methods=RACE_METHODS, dedicated_restarts=1, budget_scale=0.2,
    single_runs=2))


#: Modules of ``plateau_lib.trainers`` no method of the race runs, left out of :func:`trainers_fingerprint`:
#: the stacked gradient descent of the chapters' studies and the gradient flow.
NOT_RACED = frozenset({"stacked.py", "flow.py"})


def trainers_fingerprint() -> str:
    """SHA-256 of the source of ``plateau_lib.trainers`` (but ``NOT_RACED``) and ``plateau_lib.network``
    (staleness)."""
    root = Path(__file__).resolve().parents[1]
    trainers = [f for f in sorted((root / "trainers").glob("*.py")) if f.name not in NOT_RACED]
    files = trainers + [root / "network.py", root / "_linalg.py"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def single_anls(problem: RaceProblem, seed: int) -> float:
    """Final loss of the default ``train_anls`` from the problem's small initialisation (one run of
    ``RUN_CAPS["anls"]`` sweeps, stopped after ``OUTSIDE_BUDGET_FACTOR`` budgets of wall time)."""
    X, y = problem.data()
    net, _ = restart_network(problem, seed, 0)
    limit = OUTSIDE_BUDGET_FACTOR * problem.budget
    return float(train_anls(net, X, y, sweeps=RUN_CAPS["anls"], time_limit=limit).final_loss)


def _single_task(args: tuple[RaceProblem, int]) -> float:
    return single_anls(*args)


def run_race(suite: RaceSuite, *, executor: ExecutorLike = 2, progress: bool = True) -> dict[str, Any]:
    """Tune step sizes, race, run dedicated restarts and single ANLS runs; the results document.

    Every task runs on ``executor`` (:data:`plateau_lib.parallel.ExecutorLike`: a number of local
    processes, opened once for the whole race, or an executor, left open).
    """
    with opened(executor) as pool:
        return _run_race(suite, pool, progress=progress, workers=worker_count(executor))


def _run_race(suite: RaceSuite, executor: ExecutorLike, *, progress: bool, workers: int | None) -> dict[str, Any]:
    """:func:`run_race` on an open executor; ``workers`` is recorded in the document."""
    start = time.perf_counter()
    tuning = tuple(p for p in suite.problems if p.role == "tuning") or TUNING[:1]
    steps = tune_step_sizes(tuning, executor=executor, progress=progress)
    lrs = {m: steps[m]["chosen"] for m in steps}
    tasks = [RaceTask(p, method, s, p.budget * suite.budget_scale, lrs)
             for p in suite.problems for method in suite.methods for s in suite.seeds]
    order = sorted(range(len(tasks)), key=lambda i: (-tasks[i].budget, i))
    done = sweep(run_race_task, [tasks[i] for i in order], executor=executor, progress=progress,
                 desc=f"race ({suite.name})")
    rows: list[dict[str, Any]] = [{} for _ in tasks]
    for i, row in zip(order, done, strict=True):
        rows[i] = row
    ded_tasks = dedicated_tasks(suite.problems, suite.dedicated_restarts)
    ded = sweep(run_restart, ded_tasks, executor=executor, progress=progress, desc="race: best known")
    single_items = [(p, s) for p in suite.problems for s in range(suite.single_runs)]
    singles = sweep(_single_task, single_items, executor=executor, progress=progress, desc="race: one run")
    candidates = [(t.problem.name, v, {"found_by": "dedicated restart", "method": t.kind,
                                        "seed": 100_000 + t.index, "restart": t.index})
                  for t, v in zip(ded_tasks, ded, strict=True)]
    candidates += [(p.name, v, {"found_by": "single run", "method": "anls", "seed": s, "restart": 0})
                   for (p, s), v in zip(single_items, singles, strict=True)]
    best = best_known(suite.problems, rows, candidates)
    for row in rows:
        ref = best[row["problem"]]["reference"]
        row["ratio_at_budget"] = row["best"] / ref
        for f in LEVELS:
            row[f"time_to_{f:g}x"] = first_time_below(row["events"], f * ref)
    single = {p.name: [v for (q, _), v in zip(single_items, singles, strict=True) if q is p]
              for p in suite.problems}
    doc = {
        "benchmark": "ANLS against its peers at equal wall time, with restarts (claim C5)",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start, 1),
        "workers": workers,
        "versions": library_versions(),
        "trainers_fingerprint": trainers_fingerprint(),
        "machine": machine_record(),
        "suite": {**asdict(replace(suite, problems=())), "problems": [asdict(p) for p in suite.problems]},
        "run_caps": RUN_CAPS, "restart_schemes": RESTART_SCHEMES, "levels": LEVELS,
        "step_sizes": steps,
        "best_known": best,
        "single_anls": single,
        "rows": rows,
    }
    doc["pivot"] = pivot(doc)
    doc["goals"] = race_goals(doc)
    return doc


# ----------------------------------------------------------------------------- summaries


def pivot(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Median over race seeds of (best loss at the budget) / (best-known), per problem and method."""
    out: dict[str, dict[str, float]] = {}
    for row in doc["rows"]:
        out.setdefault(row["problem"], {}).setdefault(row["method"], [])
        out[row["problem"]][row["method"]].append(row["ratio_at_budget"])
    return {p: {m: float(np.median(v)) for m, v in ms.items()} for p, ms in out.items()}


def _median_time(rows, problem: str, method: str, level: float) -> float:
    times = [r[f"time_to_{level:g}x"] for r in rows if r["problem"] == problem and r["method"] == method]
    return _quartiles(times)[1] if times else math.inf


#: Goals of the issue (benchmarks, reported, not asserted by the tests).
GOAL_SINGLE_RATIO = 1.2
GOAL_EQUAL_TIME_SHARE = 0.9
GOAL_SPEEDUP_LOW_D = 10.0
GOAL_SPEEDUP_HIGH_D = 3.0


def race_goals(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per problem: the three race goals with the measured numbers (module docstring)."""
    rows, table = doc["rows"], doc["pivot"]
    out = []
    for name, entry in doc["best_known"].items():
        methods = table.get(name, {})
        if "anls" not in methods:
            continue
        peers = {m: v for m, v in methods.items() if m in PEERS}
        single = doc["single_anls"].get(name, [])
        single_ratio = float(np.median(single)) / entry["reference"] if single else math.nan
        t_anls = _median_time(rows, name, "anls", 2.0)
        peer_t = {m: _median_time(rows, name, m, 2.0) for m in peers}
        best_peer = min(peer_t, key=peer_t.get) if peer_t else None
        t_peer = peer_t.get(best_peer, math.inf)
        speedup = t_peer / t_anls if 0 < t_anls < math.inf else (math.inf if t_anls == 0 else 0.0)
        need = GOAL_SPEEDUP_LOW_D if entry["d"] <= 2 else GOAL_SPEEDUP_HIGH_D
        role = next(r["role"] for r in rows if r["problem"] == name)
        out.append({
            "problem": name, "role": role, "d": entry["d"],
            "single_ratio": single_ratio, "single_ok": bool(single_ratio <= GOAL_SINGLE_RATIO),
            "anls_ratio_at_budget": methods["anls"],
            "best_peer_at_budget": min(peers, key=peers.get) if peers else None,
            "best_peer_ratio_at_budget": min(peers.values()) if peers else math.inf,
            "equal_time_ok": bool(all(methods["anls"] <= v for v in peers.values())),
            "time_to_2x": t_anls, "best_peer_2x": best_peer, "best_peer_time_to_2x": t_peer,
            "speedup_2x": speedup, "required_speedup": need, "speed_ok": bool(speedup >= need),
        })
    return out


def goal_summary(goals: Sequence[dict[str, Any]], role: str) -> dict[str, Any]:
    """Counts of the goals met among problems of ``role``."""
    sel = [g for g in goals if g["role"] == role]
    n = len(sel)
    eq = sum(g["equal_time_ok"] for g in sel)
    return {
        "problems": n,
        "single_ok": sum(g["single_ok"] for g in sel),
        "equal_time_ok": eq,
        "equal_time_share": eq / n if n else math.nan,
        "equal_time_goal_met": bool(n and eq / n >= GOAL_EQUAL_TIME_SHARE),
        "speed_ok": sum(g["speed_ok"] for g in sel),
    }


__all__ = [
    "EVENT_RTOL",
    "FULL_RACE",
    "HELD_OUT",
    "HELD_OUT_TARGETS",
    "LEVELS",
    "METHODS",
    "OUTSIDE_BUDGET_FACTOR",
    "PEERS",
    "PROBLEMS",
    "QUICK_RACE",
    "RESTART_SCHEMES",
    "RUN_CAPS",
    "RaceProblem",
    "RaceSuite",
    "RaceTask",
    "STEP_GRIDS",
    "TUNING",
    "TUNING_STEPS",
    "best_known",
    "best_so_far",
    "first_time_below",
    "goal_summary",
    "pivot",
    "race_goals",
    "restart_network",
    "run_race",
    "run_race_task",
    "trainers_fingerprint",
    "tune_step_sizes",
]
