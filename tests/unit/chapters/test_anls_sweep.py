"""Chapter 4's picture of one sweep: the threshold search of one neuron, checked against the trainer and
the brute-force definition; its page.

Tolerances: the picture must reproduce the trainer's choice exactly (the same candidates, the same
argmax), checked to 1e-12 relative; sums recomputed in another order to 1e-10."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from plateau_lib.chapters import anls_sweep as sweep_study
from plateau_lib.chapters.anls_sweep import one_sweep, threshold_search
from plateau_lib.chapters.anls_vs_gd import showcase_plateau
from plateau_lib.experiments import get_experiment
from plateau_lib.network import ShallowReLU

pytest_plugins = ("anls_fixtures",)  # the shared fixtures race_quick, rest, variant_rows

SEEDS = st.integers(0, 2**32 - 1)


def random_1d(seed: int, m: int = 25, n: int = 4, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-1, 1, m))[:, None]
    y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(m)
    c, W, b = rng.standard_normal(n), rng.standard_normal((n, 1)), rng.standard_normal(n)
    net = ShallowReLU(scale * c, scale * W, scale * b)
    return net, X, y


def test_threshold_search_scores_every_candidate_by_hand():
    net, X, y = random_1d(3)
    s = threshold_search(net, X, y, 2)
    A = np.maximum(net.preactivations(X), 0.0)
    others = A @ net.c - net.c[2] * A[:, 2]
    assert_allclose(s.target, y - others, atol=1e-12)
    x = X[:, 0]
    for tau, sign, gain, count in zip(*s.candidates, strict=True):
        phi = np.maximum(sign * (x - tau), 0.0)
        assert count == int((sign * (x - tau) > 0).sum())
        expected = (phi @ s.target) ** 2 / (phi @ phi) if phi @ phi > 0 else 0.0
        assert gain == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert s.gain == s.candidates.gain.max()
    # the fit is the least-squares multiple of the chosen activation
    phi = np.maximum(s.s * (x - s.tau), 0.0)
    r = s.target - s.fit(x)
    assert abs(phi @ r) <= 1e-10 * np.linalg.norm(phi) * np.linalg.norm(s.target)
    assert np.sum(s.target**2) - np.sum(r**2) == pytest.approx(s.gain, rel=1e-10)
    # the current neuron's gain is scale-free
    assert s.current_tau == pytest.approx(-net.b[2] / net.W[2, 0])
    assert s.current_s == int(np.sign(net.W[2, 0]))
    scaled = net.with_params(W=net.W * 3.0, b=net.b * 3.0, c=net.c / 3.0)
    assert threshold_search(scaled, X, y, 2).current_gain == pytest.approx(s.current_gain, rel=1e-12)


def test_threshold_search_validates():
    net, X, y = random_1d(0)
    with pytest.raises(ValueError, match="neuron must be an integer in"):
        threshold_search(net, X, y, 4)
    with pytest.raises(ValueError, match="neuron must be an integer in"):
        threshold_search(net, X, y, True)
    net2 = ShallowReLU(np.ones(2), np.ones((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="net must be 1-D"):
        threshold_search(net2, np.zeros((5, 2)), np.ones(5), 0)
    with pytest.raises(ValueError, match="positive gain"):
        threshold_search(net.with_params(c=np.zeros(4)), X, np.zeros(len(y)), 0)


@given(SEEDS)
@settings(max_examples=30, deadline=None)
def test_the_picture_is_what_the_trainer_does(seed):
    """Whenever the trainer keeps the first update of a sweep, it is the pictured candidate."""
    net, X, y = random_1d(seed, scale=0.3)
    anatomy = one_sweep(net, X, y)
    ex = anatomy.result.extra
    if ex["update_neuron"].size and ex["update_neuron"][0] == 0 and ex["update_accepted"][0]:
        assert anatomy.agrees
    else:
        assert not anatomy.agrees
    kept = anatomy.kept_loss()
    assert np.all(np.diff(np.r_[anatomy.start_loss, kept]) <= 0)
    assert kept[-1] == pytest.approx(anatomy.result.final_loss, rel=1e-12)




def test_one_sweep_from_the_plateau(race_quick):
    X, y = get_experiment("plateau_1d").data()
    p = showcase_plateau(race_quick.plateaus)
    assert p.exits and p.start > 0
    anatomy = one_sweep(race_quick.gd.net_at(p.index), X, y)
    assert anatomy.agrees
    # a neuron with no active data (no gradient) is revived by the search
    assert anatomy.search.current_count == 0 and anatomy.search.count > 0
    assert anatomy.result.final_loss < anatomy.start_loss


def test_small_sentences(race_quick):
    X, y = get_experiment("plateau_1d").data()
    search = one_sweep(race_quick.gd.net_at(showcase_plateau(race_quick.plateaus).index), X, y).search
    assert search.current_count == 0
    assert sweep_study.current_state_text(search).startswith("no data point: its breakpoint")
    assert sweep_study.current_state_text(replace(search, current_count=3, current_tau=0.5)) == (
        f"3 of the {len(y)} points (breakpoint 0.50)")


def test_brute_force_gains_are_the_definition_and_match_the_prefix_sums():
    rng = np.random.default_rng(7)
    x = np.round(rng.uniform(-1, 1, 15), 1)  # ties
    t = rng.standard_normal(15)
    tau, s, gain = sweep_study.brute_force_gains(x, t)
    assert len(tau) == 2 * len(np.unique(x))
    k = 5
    phi = np.maximum(s[k] * (x - tau[k]), 0.0)
    assert gain[k] == pytest.approx((phi @ t) ** 2 / (phi @ phi) if phi @ phi > 0 else 0.0, rel=1e-15)
    from plateau_lib.trainers.anls import threshold_gains

    fast = threshold_gains(x, t, thresholds="data")
    assert fast.gain.max() == pytest.approx(gain.max(), rel=1e-12)
    with pytest.raises(ValueError, match="same length"):
        sweep_study.brute_force_gains(x, t[:-1])


def test_the_pictured_sweep_is_checked_against_the_brute_force_best():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    net = experiment.initial_network(experiment.seed)
    sweep = sweep_study.one_sweep(net, X, y)
    assert sweep.agrees and sweep.is_best
    assert sweep.trainer_gain == pytest.approx(sweep.best_gain, rel=1e-12)
    worse = replace(sweep, trainer_gain=0.5 * sweep.best_gain)  # a search that missed the best candidate
    assert not worse.is_best
