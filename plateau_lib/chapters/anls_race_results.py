r"""The committed results of the race and Chapter 4's page of them: loaded, checked for staleness, summarised.

The race itself (:mod:`plateau_lib.chapters.anls_race`) runs for hours; Chapter 4 reads its
committed results, ``race.json``, and the committed cost measurements of a sweep,
``anls_cost.json`` (``python -m benchmarks.bench_anls_cost``), both package data of
``plateau_lib.chapters`` (``plateau_lib/chapters/results/``), found through
``importlib.resources`` so that an installed package builds the chapter too, or passed in
as a path. :func:`race_staleness` says why a results file no longer describes the race run by
the current trainers. The page: :func:`format_pivot` and :func:`format_problems` (tables),
:func:`race_curve` (the figure), :func:`race_values`, :func:`verdict_text`,
:func:`peer_wins_text` (with :func:`run_cost`), :func:`held_out_vs_gd`, :func:`untested_text`, :func:`cost_values` and
:func:`cost_verdict` (the numbers and sentences glued into the prose).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from .anls_race import (
    FULL_RACE,
    GOAL_EQUAL_TIME_SHARE,
    GOAL_SINGLE_RATIO,
    GOAL_SPEEDUP_HIGH_D,
    GOAL_SPEEDUP_LOW_D,
    LEVELS,
    METHODS,
    PEERS,
    RaceSuite,
    best_so_far,
    goal_summary,
    pivot,
    trainers_fingerprint,
)

#: Where the committed results live: the package data folder ``plateau_lib/chapters/results``.
RESULTS_DIR = Path(str(files("plateau_lib.chapters") / "results"))


#: The committed results of the full race, which Chapter 4 reads.
RACE_PATH = RESULTS_DIR / "race.json"


RACE_COMMAND = "python -m plateau_lib bench race"


def _ratio_cell(value: float, low: float) -> str:
    """One result cell: the ratio to the reference, bold when the row's best; below 1 only at the floor."""
    text = "< floor" if value < 1.0 else f"{value:.3g}"
    return f"**{text}**" if value == low else text


def _ordered_methods(doc: dict[str, Any]) -> list[str]:
    """The raced methods, ANLS first (the chapter's subject beside the problem name), then the peers."""
    raced = [m for m in METHODS if any(m in v for v in doc["pivot"].values())]
    return sorted(raced, key=lambda m: (not m.startswith("anls"), METHODS.index(m)))


def format_pivot(doc: dict[str, Any]) -> str:
    """Markdown: problems x methods, median best-at-budget / reference loss (bold: the row's best).

    Narrow enough for the book's column: the problems' facts are in :func:`format_problems`, and
    the ANLS columns come right after the problem's name. A ratio below 1 is possible only where
    the best-known loss is under the round-off floor ``FLOOR_RTOL * L(0)`` (a target the network
    represents exactly), because the reference is ``max(best known, floor)``; it is shown as
    ``< floor``.
    """
    methods = _ordered_methods(doc)
    lines = ["| problem | " + " | ".join(f"`{m}`" for m in methods) + " |",
             "|---|" + "---:|" * len(methods)]
    for p in doc["suite"]["problems"]:
        row = doc["pivot"].get(p["name"], {})
        low = min(row.values()) if row else math.nan
        cells = [_ratio_cell(row[m], low) if m in row else "" for m in methods]
        lines.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_problems(doc: dict[str, Any]) -> str:
    """Markdown: the race's problems, their role, size, wall-time budget and reference loss."""
    lines = ["| problem | role | $d$ | $m$ | $n$ | budget (s) | reference loss |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for p in doc["suite"]["problems"]:
        known = doc["best_known"][p["name"]]
        budget = p["budget"] * doc["suite"]["budget_scale"]
        floor = " (floor)" if known["reference"] > known["best_known"] else ""
        lines.append(f"| {p['name']} | {p['role']} | {p['d']} | {p['m']} | {p['width']} | {budget:.3g} | "
                     f"{known['reference']:.3g}{floor} |")
    return "\n".join(lines)


#: The committed cost measurements (``python -m benchmarks.bench_anls_cost``).
COST_PATH = RESULTS_DIR / "anls_cost.json"


def _load_results(path: Path, what: str, command: str) -> dict[str, Any]:
    """A committed results file (``FileNotFoundError`` names the command that writes it)."""
    import json

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} at {path}; create them with `{command}`") from None


def load_cost(path: Path = COST_PATH) -> dict[str, Any]:
    """The committed measurements of what a sweep costs (``benchmarks/bench_anls_cost.py``)."""
    return _load_results(path, "cost measurements", "python -m benchmarks.bench_anls_cost")


def cost_values(cost: dict[str, Any]) -> dict[str, float]:
    """The sweep at the goal's size, its limit, and a gradient step there (for the prose)."""
    goal = cost["goal"]
    measured = goal["measured"]
    return {"cost_goal_m": goal["m"], "cost_goal_n": goal["n"], "cost_goal_d": goal["d"],
            "cost_goal_seconds": measured["sweep_median_s"], "cost_goal_limit": goal["seconds"],
            "cost_goal_grad": measured["grad_step_s"],
            "cost_goal_steps": measured["sweep_median_s"] / measured["grad_step_s"]}


def cost_verdict(cost: dict[str, Any]) -> str:
    """Whether the sweep at the goal's size is within its limit, in words."""
    v = cost_values(cost)
    return ("the goal is met" if v["cost_goal_seconds"] <= v["cost_goal_limit"]
            else f"the goal is not met: {v['cost_goal_seconds'] / v['cost_goal_limit']:.1f} times over")


def load_race(path: Path = RACE_PATH) -> dict[str, Any]:
    """The committed race results (``FileNotFoundError`` names the command that writes them)."""
    return _load_results(path, "race results", RACE_COMMAND)


def race_staleness(doc: dict[str, Any], suite: RaceSuite = FULL_RACE) -> list[str]:
    """Why ``doc`` no longer describes ``suite`` run by the current trainers (empty: it does)."""
    out = []
    if doc.get("trainers_fingerprint") != trainers_fingerprint():
        out.append(f"the trainers' code changed (fingerprint {doc.get('trainers_fingerprint')} -> "
                   f"{trainers_fingerprint()})")
    have = {p["name"]: p for p in doc["suite"]["problems"]}
    for p in suite.problems:
        if have.get(p.name) != asdict(p):
            out.append(f"problem {p.name} is missing or changed")
    if tuple(doc["suite"]["methods"]) != suite.methods or tuple(doc["suite"]["seeds"]) != suite.seeds:
        out.append("the methods or seeds changed")
    return out


def race_curve(doc: dict[str, Any], problem: str, method: str, points: int = 80) -> dict[str, np.ndarray]:
    """Least, median and largest over race seeds of (best loss so far) / (best-known), on a log grid
    of the budget (``low``, ``median``, ``high``; ``inf`` where a seed has no record yet)."""
    rows = [r for r in doc["rows"] if r["problem"] == problem and r["method"] == method]
    budget = rows[0]["budget"]
    t = np.geomspace(budget * 1e-3, budget, points)
    ref = doc["best_known"][problem]["reference"]
    curves = np.array([best_so_far(r["events"], t) / ref for r in rows])
    return {"time": t, "low": curves.min(axis=0), "median": np.median(curves, axis=0),
            "high": curves.max(axis=0)}

def race_curves_figure(doc: dict[str, Any], role: str) -> tuple[Any, dict[str, np.ndarray]]:
    """Chapter 4's race figure of the problems of ``role`` ("tuning" or "held-out") and its data.

    One panel per problem, three to a row, drawn for the book's column (``COLUMN_WIDTH_IN``, so
    its text shows at the size it is drawn in, at least 9 pt): the median best
    loss so far over the reference against wall time (:func:`race_curve`) of every raced method,
    its range over the race seeds as a band, ANLS thicker, and the level ``LEVELS[0]`` dashed;
    the legend below the panels. Returns the figure and its curves' medians by
    ``<problem>__<method>``.
    """
    from .. import plotting as pl

    problems = [p["name"] for p in doc["suite"]["problems"] if p["role"] == role]
    if not problems:
        raise ValueError(f"role must name problems of the race (tuning or held-out), got {role!r}")
    rows = -(-len(problems) // 3)
    fig, axes = pl.figure(nrows=rows, ncols=3, width=pl.COLUMN_WIDTH_IN, height=2.15 * rows + 0.7)
    arrays: dict[str, np.ndarray] = {}
    level = LEVELS[0]
    for ax, problem in zip(axes.flat[:len(problems)], problems, strict=True):
        for m in doc["suite"]["methods"]:
            c = race_curve(doc, problem, m)
            pl.plot_median_band(ax, c["time"], c["low"], c["median"], c["high"], label=m,
                                color=pl.METHOD_COLOURS[m], lw=2.0 if m.startswith("anls") else 1.1,
                                alpha=0.12)
            arrays[f"{problem}__{m.replace('-', '_')}"] = c["median"]
        ax.axhline(level, color="k", lw=0.8, ls="--", label=f"{level:g} x best known")
        ax.set(xscale="log", yscale="log")
        ax.set_title(problem, fontsize=10)
    for ax in axes.flat[len(problems):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("best / best known")
    for ax in axes[-1, :]:
        ax.set_xlabel("wall time [s]")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    return fig, arrays



def peer_wins(doc: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    """Every (problem, peer) whose median best at the budget is below ANLS's: (problem, peer, peer, anls)."""
    out = []
    for p in doc["suite"]["problems"]:
        row = doc["pivot"].get(p["name"], {})
        if "anls" not in row:
            continue
        for m in PEERS:
            if m in row and row[m] < row["anls"]:
                out.append((p["name"], m, row[m], row["anls"]))
    return out


def run_cost(doc: dict[str, Any], problem: str, method: str) -> str:
    """What a method's budget bought on a problem, median over race seeds: runs, and when the first
    iteration ended (the first recorded event after the initial loss), or that none did."""
    rows = [r for r in doc["rows"] if r["problem"] == problem and r["method"] == method]
    if not rows:
        raise ValueError(f"problem, method: no rows of {method!r} on {problem!r} in the race")
    runs = float(np.median([r["restarts"] for r in rows]))
    first = float(np.median([r["events"][1][0] if len(r["events"]) > 1 else math.inf for r in rows]))
    if math.isinf(first):
        return f"no iteration ended within the {rows[0]['budget']:g}-s budget"
    return f"{runs:g} run(s), the first iteration done after {first:.2g} s"


def peer_wins_text(doc: dict[str, Any]) -> str:
    """Markdown: every problem where a peer's median best at the budget is below ANLS's, with what the
    budget bought ANLS and the best peer (:func:`run_cost`): the cost or the quality that decided it."""
    wins = peer_wins(doc)
    if not wins:
        return "No peer ends below ANLS's median best loss at the budget on any problem."
    by_problem: dict[str, list[tuple[str, float]]] = {}
    for problem, peer, v, _ in wins:
        by_problem.setdefault(problem, []).append((peer, v))
    roles = {p["name"]: p["role"] for p in doc["suite"]["problems"]}
    items = []
    for name, peers in by_problem.items():
        best_peer = min(peers, key=lambda pv: pv[1])[0]
        against = ", ".join(f"{peer} {v:.3g}" for peer, v in peers)
        items.append(f"`{name}` ({roles[name]}; ANLS {doc['pivot'][name]['anls']:.3g} against {against}; "
                     f"ANLS: {run_cost(doc, name, 'anls')}; {best_peer}: {run_cost(doc, name, best_peer)})")
    return (f"A peer ends below ANLS's median best loss at the budget on {len(by_problem)} of "
            f"{len(doc['pivot'])} problems (ratios to the best-known loss; median over race seeds of what "
            "the budget bought): " + "; ".join(items) + ".")


@dataclass(frozen=True)
class HeldOutVsGd:
    """ANLS against gradient descent at equal wall time on the held-out problems (:func:`held_out_vs_gd`).

    Attributes
    ----------
    below, not_below : tuple of str
        Problems where ANLS's median best loss at the budget is below gradient descent's, and where it is not.
    untested : tuple of str
        Problems where some ANLS run ended no iteration within the budget (its best is the initial
        loss): the budget did not test ANLS there, so they are set aside, and said so.
    """

    below: tuple[str, ...]
    not_below: tuple[str, ...]
    untested: tuple[str, ...]


def held_out_vs_gd(doc: dict[str, Any]) -> HeldOutVsGd:
    """Compare ANLS (the default preset) with gradient descent on every held-out problem of a race."""
    table = pivot(doc)
    below, not_below, untested = [], [], []
    for problem in [p["name"] for p in doc["suite"]["problems"] if p["role"] == "held-out"]:
        rows = [r for r in doc["rows"] if r["problem"] == problem and r["method"] == "anls"]
        if not rows or any(len(r["events"]) < 2 for r in rows):
            untested.append(problem)
        elif table[problem]["anls"] < table[problem]["gd"]:
            below.append(problem)
        else:
            not_below.append(problem)
    return HeldOutVsGd(tuple(below), tuple(not_below), tuple(untested))


def untested_text(versus: HeldOutVsGd) -> str:
    """The prose's sentence on the held-out problems :func:`held_out_vs_gd` set aside (Markdown)."""
    if not versus.untested:
        return "No held-out problem was set aside."
    names = ", ".join(f"`{p}`" for p in versus.untested)
    return (f"Set aside: {names}, where some ANLS run ended no iteration within the budget (one sweep "
            "takes longer), so the race did not test it there.")


def verdict_text(doc: dict[str, Any]) -> str:
    """The goals, measured, in sentences (Markdown), for tuning and held-out problems."""
    parts = []
    for role in ("held-out", "tuning"):
        goals = [g for g in doc["goals"] if g["role"] == role]
        if not goals:
            continue
        s = goal_summary(goals, role)
        miss = [g for g in goals if not g["single_ok"]]
        single = (f"one default run ends within {GOAL_SINGLE_RATIO:g} times the best-known loss "
                  f"(median over {len(doc['single_anls'][goals[0]['problem']])} initialisations) on "
                  f"{s['single_ok']} of {s['problems']}")
        if miss:
            single += " (not on " + ", ".join(f"`{g['problem']}`: {g['single_ratio']:.3g}" for g in miss) + ")"
        eq = (f"at equal wall time ANLS's median best loss is at most every peer's on {s['equal_time_ok']} of "
              f"{s['problems']} ({s['equal_time_share']:.0%}; goal {GOAL_EQUAL_TIME_SHARE:.0%}: "
              f"{'met' if s['equal_time_goal_met'] else 'not met'})")
        speed = (f"it reaches twice the best-known loss at least {GOAL_SPEEDUP_LOW_D:g} times (d <= 2) or "
                 f"{GOAL_SPEEDUP_HIGH_D:g} times (d >= 3) sooner than the best peer on {s['speed_ok']} of "
                 f"{s['problems']}")
        parts.append(f"**{role.capitalize()} problems:** {single}; {eq}; {speed}.")
    return " ".join(parts)


def race_values(doc: dict[str, Any]) -> dict[str, Any]:
    """Numbers of the race for the prose (glue)."""
    out: dict[str, Any] = {"race_seeds": len(doc["suite"]["seeds"]), "race_minutes": doc["seconds"] / 60,
                           "race_tasks": len(doc["rows"]), "dedicated": doc["suite"]["dedicated_restarts"],
                           "race_restarts": int(sum(r["restarts"] for r in doc["rows"])),
                           "gd_lr": doc["step_sizes"]["gd"]["chosen"],
                           "adam_lr": doc["step_sizes"]["adam"]["chosen"],
                           "goal_single": GOAL_SINGLE_RATIO, "goal_share": GOAL_EQUAL_TIME_SHARE,
                           "goal_speed_low": GOAL_SPEEDUP_LOW_D, "goal_speed_high": GOAL_SPEEDUP_HIGH_D}
    held = [p for p in doc["suite"]["problems"] if p["role"] == "held-out"]
    if held:
        dims = sorted({p["d"] for p in held})
        out.update({"held_out_dims": ", ".join(map(str, dims[:-1])) + f" and {dims[-1]}",
                    "held_out_m_min": min(p["m"] for p in held), "held_out_m_max": max(p["m"] for p in held),
                    "held_out_n_min": min(p["width"] for p in held),
                    "held_out_n_max": max(p["width"] for p in held),
                    "held_out_noisy": sum(p["noise"] > 0 for p in held),
                    "held_out_per_dim": ", ".join(f"{sum(p['d'] == d for p in held)} in {d}-D" for d in dims)})
    out["race_level"] = LEVELS[0]
    for role in ("tuning", "held-out"):
        s = goal_summary(doc["goals"], role)
        key = role.replace("-", "_")
        out.update({f"{key}_problems": s["problems"], f"{key}_equal_ok": s["equal_time_ok"],
                    f"{key}_single_ok": s["single_ok"], f"{key}_speed_ok": s["speed_ok"]})
    return out
