r"""One ANLS sweep from a plateau of gradient descent, pictured: Chapter 4's picture of the algorithm.

For one neuron, :func:`threshold_search` gives the target it is fitted to, every candidate
threshold with its least-squares gain (scored by :func:`~plateau_lib.trainers.anls.threshold_gains`,
not re-implemented here; :func:`brute_force_gains` computes the definition directly, as a check),
and the chosen one; :func:`one_sweep` the loss after every neuron update of the sweep. The page
of this study: :func:`sweep_report`, :func:`sweep_figure_data`, :func:`sweep_values` and the
sentences :func:`sweep_text`, :func:`current_state_text`, :func:`plateau_choice_text`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array
from ..experiments import get_experiment
from ..network import ShallowReLU, check_problem
from ..result import TrainResult
from ..trainers.anls import ThresholdCandidates, threshold_gains, train_anls
from .anls_vs_gd import GdVsAnls, IterationLead, gd_needs_text
from .explanation_runs import PlateauRow
from .page import FigureData, relation, run_line

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ThresholdSearch:
    r"""The threshold search of one ANLS update of a 1-D neuron :math:`j` (step 3 of the algorithm).

    Attributes
    ----------
    neuron : int
        :math:`j`.
    x : ndarray, shape (m,)
        The data (the projections :math:`p_i = x_i`: in 1-D the direction is :math:`\pm1`, covered by
        the orientation :math:`s`).
    target : ndarray, shape (m,)
        :math:`t = y - \sum_{l\ne j} c_l\,\mathrm{relu}(w_l x + b_l)`.
    candidates : plateau_lib.trainers.anls_threshold.ThresholdCandidates
        Every candidate :math:`(\tau, s)` with its gain
        :math:`G = (\varphi\cdot t)^2/(\varphi\cdot\varphi)`, :math:`\varphi = \mathrm{relu}(s(x - \tau))`.
    chosen : int
        Index of the candidate of largest gain (the first of equal ones, as the trainer).
    current_tau, current_s, current_gain, current_count
        The neuron's own breakpoint :math:`-b_j/w_j`, orientation :math:`\mathrm{sign}\,w_j`, the gain
        of its current activation :math:`\mathrm{relu}(w_j x + b_j)` (scale-free) and its active
        count (``nan``, 0 when :math:`w_j = 0`).
    """

    neuron: int
    x: FloatArray
    target: FloatArray
    candidates: ThresholdCandidates
    chosen: int
    current_tau: float
    current_s: int
    current_gain: float
    current_count: int

    @property
    def tau(self) -> float:
        """Chosen threshold."""
        return float(self.candidates.tau[self.chosen])

    @property
    def s(self) -> int:
        """Chosen orientation."""
        return int(self.candidates.s[self.chosen])

    @property
    def gain(self) -> float:
        """Gain of the chosen candidate."""
        return float(self.candidates.gain[self.chosen])

    @property
    def count(self) -> int:
        """Active count of the chosen candidate."""
        return int(self.candidates.count[self.chosen])

    def fit(self, x: ArrayLike) -> FloatArray:
        r"""The chosen single fit :math:`\gamma\,\mathrm{relu}(s(x - \tau))` at ``x``.

        :math:`\gamma = \varphi\cdot t/\varphi\cdot\varphi` is the least-squares output weight.
        """
        phi = np.maximum(self.s * (self.x - self.tau), 0.0)
        gamma = float(phi @ self.target / (phi @ phi))
        return gamma * np.maximum(self.s * (np.asarray(x, dtype=float) - self.tau), 0.0)


def threshold_search(net: ShallowReLU, X: ArrayLike, y: ArrayLike, neuron: int, *,
                     thresholds: str = "data") -> ThresholdSearch:
    r"""Score every threshold of neuron ``neuron`` of a 1-D network, as one ANLS update does.

    The target is :math:`t = y - \sum_{l\ne j} c_l\,\mathrm{relu}(w_l x + b_l) = c_j\,\mathrm{relu}(w_j x
    + b_j) - r` (:math:`r = N - y`); the candidates and gains come from
    :func:`~plateau_lib.trainers.anls.threshold_gains` (``criterion="single"``, the design's choice).

    Raises
    ------
    ValueError
        If the network is not 1-D, ``neuron`` is out of range, or no candidate has a positive gain.
    """
    net, X, y = check_problem(net, X, y)
    if net.d != 1:
        raise ValueError(f"net must be 1-D (d = 1) for the threshold picture, got d = {net.d}")
    if isinstance(neuron, bool) or not isinstance(neuron, (int, np.integer)) or not 0 <= neuron < net.n:
        raise ValueError(f"neuron must be an integer in [0, {net.n}), got {neuron!r}")
    j = int(neuron)
    Z = net.preactivations(X)
    A = np.maximum(Z, 0.0)
    target = net.c[j] * A[:, j] - (A @ net.c - y)
    x = X[:, 0].copy()
    cand = threshold_gains(x, target, thresholds=thresholds)
    if not (cand.gain > 0).any():
        raise ValueError(f"no threshold of neuron {j} has a positive gain (the target is orthogonal to every ReLU)")
    chosen = int(np.argmax(cand.gain))
    w, b = float(net.W[j, 0]), float(net.b[j])
    current_gain = _single_gain(A[:, j], target)
    return ThresholdSearch(
        neuron=j, x=x, target=target, candidates=cand, chosen=chosen,
        current_tau=-b / w if w != 0 else math.nan, current_s=int(np.sign(w)),
        current_gain=current_gain, current_count=int((Z[:, j] > 0).sum()),
    )


@dataclass(frozen=True)
class SweepAnatomy:
    r"""One ANLS sweep from a given network, with the threshold search of the first neuron it visits.

    Attributes
    ----------
    start : ShallowReLU
        The network the sweep starts from.
    search : ThresholdSearch
        The search of the first neuron visited (neuron 0: the cyclic order). Its state is exactly
        ``start``; later neurons see the network after the earlier updates of the sweep.
    result : TrainResult
        ``train_anls(start, X, y, sweeps=1, preset="design")`` (the design's options).
    agrees : bool
        The trainer's first update is this neuron's, it was kept, and the neuron's new breakpoint and
        orientation are the search's chosen candidate (to :math:`10^{-12}`): the picture is what the
        trainer did.
    best_gain : float
        The largest gain :math:`(\phi\cdot t)^2/(\phi\cdot\phi)` over every data threshold and
        orientation, by :func:`brute_force_gains` (one candidate at a time, no prefix sums).
    trainer_gain : float
        The same gain of the neuron the trainer set, computed from its new breakpoint and orientation.
    """

    start: ShallowReLU
    search: ThresholdSearch
    result: TrainResult
    agrees: bool
    best_gain: float
    trainer_gain: float

    @property
    def is_best(self) -> bool:
        """The trainer's update attains the brute-force best gain (relative :math:`10^{-12}`): an independent check."""
        return self.trainer_gain >= self.best_gain * (1 - 1e-12)

    @property
    def start_loss(self) -> float:
        """Loss before the sweep."""
        return float(self.result.loss[0])

    @property
    def update_neuron(self) -> NDArray[np.int64]:
        """Neuron of each update of the sweep, in order."""
        return self.result.extra["update_neuron"]

    @property
    def update_loss(self) -> FloatArray:
        """Loss after each proposed update (kept or not)."""
        return self.result.extra["update_loss"]

    @property
    def update_accepted(self) -> NDArray[np.bool_]:
        """Whether each update was kept."""
        return self.result.extra["update_accepted"]

    @property
    def update_pattern_changed(self) -> NDArray[np.bool_]:
        """Whether each kept update changed its neuron's activation column."""
        return self.result.extra["update_pattern_changed"]

    def kept_loss(self) -> FloatArray:
        """The loss after each update *as the trainer continued* (a rejected update leaves it unchanged)."""
        out, current = [], self.start_loss
        for loss_k, ok in zip(self.update_loss, self.update_accepted, strict=True):
            current = float(loss_k) if ok else current
            out.append(current)
        return np.asarray(out)


def one_sweep(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> SweepAnatomy:
    """One ANLS sweep (design options, cyclic order) from ``net``, and the search of its first neuron."""
    net, X, y = check_problem(net, X, y)
    search = threshold_search(net, X, y, 0)
    result = train_anls(net, X, y, sweeps=1, preset="design")
    ex = result.extra
    agrees = bool(ex["update_neuron"].size and ex["update_neuron"][0] == 0 and ex["update_accepted"][0])
    w, b = float(result.net.W[0, 0]), float(result.net.b[0])  # neuron 0 after the sweep: its first update
    if agrees:
        tau = -b / w if w != 0 else math.nan
        scale = max(1.0, abs(search.tau))
        agrees = bool(int(np.sign(w)) == search.s and abs(tau - search.tau) <= 1e-12 * scale)
    x, t = search.x, search.target
    trainer_gain = _single_gain(np.maximum(w * x + b, 0.0), t)
    best_gain = float(np.max(brute_force_gains(x, t).gain))
    return SweepAnatomy(start=net, search=search, result=result, agrees=agrees, best_gain=best_gain,
                        trainer_gain=trainer_gain)


def _single_gain(phi: FloatArray, t: FloatArray) -> float:
    den = float(phi @ phi)
    return float(phi @ t) ** 2 / den if den > 0 else 0.0


class BruteForceGains(NamedTuple):
    """Every data threshold and orientation with its gain (:func:`brute_force_gains`), one entry per candidate."""

    #: The thresholds :math:`\tau` (the distinct data points).
    tau: FloatArray
    #: The orientations :math:`s = \pm1`.
    s: NDArray[np.int64]
    #: The gains :math:`(\phi\cdot t)^2/(\phi\cdot\phi)` (0 when :math:`\phi = 0`).
    gain: FloatArray


def brute_force_gains(x: ArrayLike, t: ArrayLike) -> BruteForceGains:
    r"""The design's gain of every data threshold and orientation, one candidate at a time.

    For each distinct :math:`\tau \in \{x_i\}` and :math:`s = \pm1`,
    :math:`\phi = \mathrm{relu}(s(x - \tau))` and the gain is :math:`(\phi\cdot t)^2/(\phi\cdot\phi)`
    (0 when :math:`\phi = 0`): the definition, computed directly in :math:`O(m^2)`, as a check
    of :func:`~plateau_lib.trainers.anls.threshold_gains`' sorted prefix sums.

    Returns
    -------
    BruteForceGains
        ``tau``, ``s`` and ``gain``, one entry per candidate.
    """
    x = as_float_array(x, "x", 1)
    t = as_float_array(t, "t", 1)
    if x.shape != t.shape:
        raise ValueError(f"x and t must have the same length, got {x.size} and {t.size}")
    taus, signs, gains = [], [], []
    for tau in np.unique(x):
        for s in (1, -1):
            taus.append(float(tau))
            signs.append(s)
            gains.append(_single_gain(np.maximum(s * (x - tau), 0.0), t))
    return BruteForceGains(np.array(taus), np.array(signs, dtype=np.int64), np.array(gains))


def plateau_choice_text(plateau: PlateauRow) -> str:
    """Which plateau the sweep starts on, in words.

    The rule of :func:`~plateau_lib.chapters.anls_vs_gd.showcase_plateau`, and its fallback.
    """
    if plateau.exits and plateau.start > 0:
        return "the longest plateau it leaves"
    left = "which it does not leave within its budget" if not plateau.exits else "the one it starts on"
    return f"its longest plateau, {left} (it leaves no other plateau)"


def sweep_text(lead: IterationLead, gd_final: float, gd_steps: int) -> str:
    """Where one sweep from the plateau ends, against gradient descent's final loss and its steps."""
    how = (f"needs {lead.gd_steps} steps to get as low" if lead.reached else
           f"does not get as low in the {lead.gd_budget} steps it has left")
    return (f"{relation(lead.loss, gd_final)} the loss gradient descent reaches after all its {gd_steps} steps "
            f"({gd_final:.5f}). Gradient descent, continuing from the same network, {how}.")


def sweep_report(race: GdVsAnls, plateau: PlateauRow, sweep: SweepAnatomy, lead: IterationLead) -> str:
    """The sweep from the plateau network in words: the run, the plateau, the search, the losses, the lead.

    Parameters
    ----------
    race : GdVsAnls
        The showcase race (its gradient descent supplies the plateau network).
    plateau : PlateauRow
        The plateau the sweep starts on (:func:`~plateau_lib.chapters.anls_vs_gd.showcase_plateau`).
    sweep : SweepAnatomy
        :func:`one_sweep` from gradient descent's network in the middle of ``plateau``.
    lead : IterationLead
        :func:`~plateau_lib.chapters.anls_vs_gd.iteration_lead` of the sweep against gradient descent
        continuing from that network.

    Returns
    -------
    str
        The run, the plateau, the search, the loss after each update and the lead, one per line (numpy may
        wrap the array of losses over two).
    """
    step = int(race.gd.steps[plateau.index])
    s = sweep.search
    return "\n".join([
        run_line(race.gd),
        f"plateau: steps {plateau.start:.0f}-{plateau.end:.0f}, loss {plateau.level:.5f}; "
        f"network at step {step}, counts {race.gd.counts[plateau.index]}",
        f"neuron {s.neuron}: current breakpoint {s.current_tau:+.3f} (s = {s.current_s:+d}, {s.current_count} "
        f"active), chosen tau = {s.tau:+.3f}, s = {s.s:+d} ({s.count} active), gain {s.gain:.4f}; the trainer "
        f"did the same: {sweep.agrees}",
        f"loss: {sweep.start_loss:.5f} before the sweep, after each update {np.round(sweep.kept_loss(), 5)}",
        f"GD from step {step} needs {gd_needs_text(lead)} steps to reach the loss of this one sweep",
    ])


def sweep_figure_data(sweep: SweepAnatomy) -> FigureData:
    """The sweep figure's data: the first neuron's target, candidates and choice, and the updates' losses.

    The acceptances are unchecked: a rejection is decided by comparing two nearly equal losses.
    """
    s = sweep.search
    return FigureData(
        arrays={"x": s.x, "target": s.target, "tau": s.candidates.tau, "s": s.candidates.s,
                "gain": s.candidates.gain, "chosen": s.chosen, "update_neuron": sweep.update_neuron,
                "update_loss": sweep.update_loss, "start_loss": sweep.start_loss},
        unchecked={"update_accepted": sweep.update_accepted},
    )


def sweep_values(race: GdVsAnls, plateau: PlateauRow, sweep: SweepAnatomy) -> dict[str, Any]:
    """The numbers of the sweep section: the experiment, the plateau, the first neuron's search, the losses.

    The count of kept updates is left out: it is decided by accept/reject comparisons (glue it unchecked).
    """
    experiment = get_experiment(race.experiment)
    s = sweep.search
    return {
        "m1": experiment.m, "n1": experiment.width, "alpha1": f"{experiment.init_scale:g}",
        "lr1": experiment.options["lr"], "run_seed": race.seed,
        "plat_start": plateau.start, "plat_end": plateau.end, "plat_level": plateau.level,
        "sweep_neuron": s.neuron, "cur_count": s.current_count, "cur_tau": s.current_tau,
        "n_candidates": len(s.candidates.tau), "chosen_tau": s.tau, "chosen_count": s.count,
        "chosen_gain": s.gain, "cur_gain": s.current_gain, "chosen_s": f"{s.s:+d}",
        "chosen_side": "to its right" if s.s > 0 else "to its left",
        "sweep_start": sweep.start_loss, "sweep_first": float(sweep.kept_loss()[0]),
        "sweep_end": sweep.result.final_loss, "sweep_updates": len(sweep.update_accepted),
    }


def current_state_text(search: ThresholdSearch) -> str:
    """What the first neuron of the sweep activates before its update, in words."""
    if search.current_count == 0:
        return (f"no data point: its breakpoint lies at {search.current_tau:.2f}, outside the data, so it "
                "receives no gradient, and gradient descent cannot move it")
    return f"{search.current_count} of the {search.x.size} points (breakpoint {search.current_tau:.2f})"
