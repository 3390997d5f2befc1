r"""Second-order-ish peers of gradient descent, through :mod:`scipy.optimize`.

Two trainers hand the shallow ReLU least-squares problem to scipy with the
analytic derivatives of :mod:`plateau_lib.network`:

* :func:`train_lbfgs` minimises :math:`L(\theta)` with L-BFGS-B
  (:func:`scipy.optimize.minimize`, ``jac=True``), gradient from
  :func:`~plateau_lib.network.evaluate`;
* :func:`train_lm` minimises :math:`\tfrac12\|f(\theta)\|^2` with
  :func:`scipy.optimize.least_squares` (trust-region reflective, dogbox or MINPACK's
  Levenberg-Marquardt), where

  .. math::

      f(\theta) = \frac{r(\theta)}{\sqrt m} = \frac{N_\theta(X) - y}{\sqrt m},
      \qquad \tfrac12\|f\|^2 = \frac1{2m}\|r\|^2 = L,
      \qquad \frac{\partial f}{\partial\theta} = \frac{J(\theta)}{\sqrt m},

  with :math:`J` the Jacobian of the outputs
  (:func:`~plateau_lib.network.jacobian_from_preactivations`).

Both work on the flat parameter vector of :meth:`~plateau_lib.network.ShallowReLU.to_vector`,
``[c, W.ravel(), b]``. The loss is only piecewise smooth (its gradient jumps where a
pre-activation :math:`w_j\cdot x_i + b_j` crosses zero; we use
:math:`\mathrm{relu}'(0) = 0`), so quasi-Newton line searches may stop with an
"abnormal termination" when they straddle a kink; the result then reports
``status="stalled"`` with scipy's message.

A *step* is one iteration of the optimiser (one accepted update): the recorder sees
the activation pattern at every iterate, exactly as for gradient descent, so the
``pattern_changes`` of the result are the iterations whose pattern differs from the
previous iterate's. Function evaluations inside line searches or rejected trust-region
trials are not steps; they are counted in ``nfev``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validation import (
    check_choice,
    check_positive_float,
    check_positive_int,
    time_limit_message,
)
from ..network import ShallowReLU, evaluate, jacobian_from_preactivations, split_params
from ..recording import Recorder
from ..result import BUDGET, CONVERGED, FAILED, INTERRUPTED, STALLED, TrainResult
from ._gradient_norm import gradient_norm
from ._progress import progress_bar
from ._run_args import check_run_args

#: Default budget of :func:`train_lbfgs`, in iterations (scipy's ``maxiter`` default for L-BFGS-B).
LBFGS_STEPS = 15_000
#: Default budget of :func:`train_lm`, in iterations.
LM_STEPS = 1_000
LBFGS_OPTIONS = ("maxcor", "ftol", "maxfun", "maxls")
LSQ_METHODS = ("trf", "dogbox", "lm")
_MINPACK_MAX_NFEV = 2**31 - 1


class _Problem:
    """The loss on the flat parameter vector, with a one-entry cache.

    Optimisers evaluate the loss at trial points and then report an iterate that
    was (almost always) the last point evaluated; the cache lets the recorder reuse
    that evaluation instead of repeating it.
    """

    def __init__(self, net: ShallowReLU, X: np.ndarray, y: np.ndarray) -> None:
        self.n, self.d = net.n, net.d
        self.X, self.y = X, y
        self.sqrt_m = float(np.sqrt(X.shape[0]))
        self._x: np.ndarray | None = None
        self._ev = None
        self.nres = 0  # residual requests (the optimiser's function evaluations)
        self.njac = 0  # Jacobian requests

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, d = self.n, self.d
        return split_params(theta, n, d)

    def evaluate(self, theta: np.ndarray):
        if self._x is None or not np.array_equal(theta, self._x):
            self._x = np.array(theta, dtype=np.float64)
            self._ev = evaluate(*self.split(self._x), self.X, self.y)
        return self._ev

    def loss_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.nres += 1
        ev = self.evaluate(theta)
        return ev.loss, np.concatenate([ev.gc, ev.gW.ravel(), ev.gb])

    def residual(self, theta: np.ndarray) -> np.ndarray:
        self.nres += 1
        return self.evaluate(theta).r / self.sqrt_m

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        self.njac += 1
        ev = self.evaluate(theta)
        return jacobian_from_preactivations(ev.Z, self.split(self._x)[0], self.X) / self.sqrt_m


def _final_step(k: int, theta: np.ndarray, state: dict) -> int:
    """Step number of the returned parameters: ``k``, unless they differ from the last
    recorded iterate ``state["theta"]`` at that step ``state["k"]`` (then they are one step
    later, so the history ends with the returned network)."""
    k = max(k, state["k"])
    if k == state["k"] and not np.array_equal(theta, state["theta"]):
        k += 1
    return k


class _Iterates:
    """The iterates an optimiser reports, recorded as steps ``1, 2, ...`` after the start (step 0).

    ``k`` and ``theta`` are the last recorded step and its parameters; the progress bar advances
    by one per step.
    """

    def __init__(self, prob: _Problem, net: ShallowReLU, *, steps: int, record_every: int,
                 time_limit: float | None, label: str, progress: bool) -> None:
        self.prob = prob
        self.rec = Recorder(record_every, net.n, net.d, time_limit)
        self.theta0 = net.to_vector()
        self.k, self.theta = 0, self.theta0
        ev0 = prob.evaluate(self.theta0)
        self.rec.observe(0, ev0.active, ev0.loss, self.theta0)
        self.bar = progress_bar(steps, label, progress)

    def advance(self, theta: np.ndarray) -> None:
        """Record ``theta`` as the next step."""
        ev = self.prob.evaluate(theta)
        self.k += 1
        self.theta = theta
        self.rec.observe(self.k, ev.active, ev.loss, theta)
        self.bar.update(1)

    def final_step(self, k: int, theta: np.ndarray) -> int:
        """:func:`_final_step` after the last recorded step."""
        return _final_step(k, theta, {"k": self.k, "theta": self.theta})

    def finish(self, k: int, theta: np.ndarray, **outcome) -> TrainResult:
        """The result, ending at step ``k`` with ``theta`` (``outcome``: method, counts, status, message)."""
        ev = self.prob.evaluate(theta)
        return self.rec.finish(k, ev.active, ev.loss, theta, grad_norm=gradient_norm(ev), **outcome)


def train_lbfgs(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    steps: int = LBFGS_STEPS,
    record_every: int = 1,
    gtol: float = 1e-10,
    progress: bool = False,
    time_limit: float | None = None,
    **options: float,
) -> TrainResult:
    r"""Minimise the loss with L-BFGS-B and the analytic gradient.

    The limited-memory BFGS method keeps the last ``maxcor`` pairs
    :math:`(s_k, g_{k+1} - g_k)` with :math:`s_k = \theta_{k+1} - \theta_k` and
    :math:`g_k = \nabla L(\theta_k)`, builds from them an approximation
    :math:`H_k \approx (\nabla^2 L)^{-1}`, and moves along
    :math:`-H_k g_k` with a line search satisfying the Wolfe conditions
    (:func:`scipy.optimize.minimize` with ``method="L-BFGS-B"`` and no bounds).

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    steps : int
        Maximal number of iterations (scipy's ``maxiter``; default :data:`LBFGS_STEPS`).
    record_every : int
        Record loss, counts and parameters every this many iterations; the pattern is
        checked at every iterate and every change is recorded.
    gtol : float
        Stop once :math:`\max_k |\partial_k L| \le` ``gtol`` (scipy's projected-gradient
        tolerance; 0 disables).
    progress : bool
        Show a progress bar.
    time_limit : float, optional
        Stop after the first iteration that ends past this many wall-clock seconds
        (``status="budget"``). ``None``: no limit.
    **options
        Further L-BFGS-B options: ``maxcor`` (memory, default 10), ``ftol`` (stop when the
        relative reduction of :math:`L` falls below it, default ``2.2e-9``), ``maxfun``
        (function evaluations, default ``100 * steps``), ``maxls`` (line-search steps,
        default 20).

    Returns
    -------
    TrainResult
        ``method="lbfgs"``; ``steps[i]`` counts iterations; ``nfev`` and ``njev`` are
        scipy's (loss and gradient come from one pass, so they are equal). Ctrl-C stops
        and returns the iterates so far with ``status="interrupted"``.
    """
    net, X, y, steps, record_every, time_limit = check_run_args(net, X, y, steps, record_every, time_limit)
    gtol = check_positive_float(gtol, "gtol", allow_zero=True)
    unknown = sorted(set(options) - set(LBFGS_OPTIONS))
    if unknown:
        raise TypeError(f"options must be among {', '.join(LBFGS_OPTIONS)}; got {unknown}")
    opts: dict[str, float | int] = {"maxfun": 100 * steps}
    for name, value in options.items():
        if name in ("maxcor", "maxfun", "maxls"):
            opts[name] = check_positive_int(value, name)
        else:
            opts[name] = check_positive_float(value, name, allow_zero=True)
    opts.update(maxiter=steps, gtol=gtol)

    from scipy.optimize import minimize

    run = _Iterates(_Problem(net, X, y), net, steps=steps, record_every=record_every, time_limit=time_limit,
                    label="lbfgs", progress=progress)
    timed_out = False

    def callback(intermediate_result) -> None:
        nonlocal timed_out
        run.advance(np.array(intermediate_result.x, dtype=np.float64))
        if run.rec.out_of_time():
            timed_out = True
            raise StopIteration

    try:
        res = minimize(run.prob.loss_and_grad, run.theta0, method="L-BFGS-B", jac=True, callback=callback,
                       options=opts)
    except KeyboardInterrupt:
        res = None
    finally:
        run.bar.close()
    if res is None:
        theta, k = run.theta, run.k
        nfev, status, message = run.prob.nres, INTERRUPTED, f"interrupted by the user at step {k}"
    else:
        theta, nfev = np.asarray(res.x, dtype=np.float64), int(res.nfev)
        k = run.final_step(int(res.nit), theta)
        status = CONVERGED if res.success else BUDGET if res.status == 1 or timed_out else STALLED
        message = f"reached steps={steps}" if status == BUDGET and k >= steps else str(res.message)
        if timed_out:
            message = time_limit_message(time_limit)
    return run.finish(k, theta, method="lbfgs", nfev=nfev, njev=nfev, status=status, message=message)


def train_lm(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    steps: int = LM_STEPS,
    algorithm: str = "trf",
    record_every: int = 1,
    ftol: float = 1e-12,
    xtol: float = 1e-12,
    gtol: float = 1e-12,
    max_nfev: int | None = None,
    progress: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    r"""Minimise the loss as a nonlinear least-squares problem (Gauss-Newton family).

    With residual :math:`f = r/\sqrt m` and its Jacobian :math:`J_f = J/\sqrt m`, each
    iteration solves a regularised Gauss-Newton problem,

    .. math::

        \min_{p}\ \tfrac12\|f + J_f p\|^2 \quad\text{subject to}\quad \|Dp\| \le \Delta
        \qquad\Longleftrightarrow\qquad
        (J_f^\top J_f + \mu D^\top D)\,p = -J_f^\top f ,

    accepts :math:`\theta + p` if the actual reduction of :math:`L = \tfrac12\|f\|^2`
    is a large enough fraction of the predicted one, and adapts the trust radius
    :math:`\Delta` (equivalently the damping :math:`\mu`).

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    steps : int
        Maximal number of iterations (accepted or attempted updates, see Notes; default
        :data:`LM_STEPS`).
    algorithm : {"trf", "dogbox", "lm"}
        :func:`scipy.optimize.least_squares` method: trust-region reflective, dogleg
        with rectangular trust regions, or MINPACK's Levenberg-Marquardt (``lmder``,
        which needs :math:`m \ge n(d+2)`).
    record_every : int
        Record every this many iterations (and at every pattern change).
    ftol, xtol, gtol : float
        scipy's tolerances on the relative reduction of the cost, the relative step and
        the scaled gradient (each must be at least machine epsilon for ``"lm"``).
    max_nfev : int, optional
        Cap on residual evaluations; default ``100 * (steps + 1)``.
    progress : bool
        Show a progress bar.
    time_limit : float, optional
        Stop after the first step that ends past this many wall-clock seconds
        (``status="budget"``). ``None``: no limit.

    Returns
    -------
    TrainResult
        ``method="lm"`` whatever the algorithm, which ``extra["algorithm"]`` names. ``nfev``
        and ``njev`` count residual and Jacobian evaluations (as scipy reports them).

    Notes
    -----
    For ``"trf"`` and ``"dogbox"`` a step is one iteration of scipy's loop, reported by
    its ``callback``; an iteration whose trial steps were all rejected repeats the
    previous parameters. MINPACK's ``"lm"`` has no callback. It evaluates the
    Jacobian exactly once per outer iteration, at the current (accepted) iterate, so
    here a step is one Jacobian evaluation: ``steps[i]`` counts accepted updates, the
    recorded loss is non-increasing, and rejected trial points (residual evaluations
    with a larger loss) never enter the history. The run stops after ``steps``
    accepted updates. ``max_nfev`` still bounds the residual evaluations.

    Reproducibility: with SciPy 1.17 the MINPACK path is not bitwise reproducible.
    Repeated calls with identical inputs, and callbacks that return bitwise-identical
    values, sometimes take different steps (it varies with the state of the heap, e.g.
    under ``MALLOC_PERTURB_``). ``"trf"`` and ``"dogbox"``, driven by the same callbacks,
    are reproducible. On this non-smooth problem a different step can end in a different
    local minimum, so use ``"trf"`` when runs must be repeatable.
    """
    net, X, y, steps, record_every, time_limit = check_run_args(net, X, y, steps, record_every, time_limit)
    algorithm = check_choice(algorithm, "algorithm", LSQ_METHODS)
    tols = _check_lsq_tolerances(algorithm, ftol=ftol, xtol=xtol, gtol=gtol)
    max_nfev = _check_max_nfev(max_nfev, steps, algorithm, m=X.shape[0], size=net.size)

    label = "lm-minpack" if algorithm == "lm" else f"lm-{algorithm}"
    run = _LeastSquaresRun(_Problem(net, X, y), net, steps=steps, record_every=record_every,
                           time_limit=time_limit, label=label, progress=progress)
    res, status, message = run.solve(algorithm, tols | {"max_nfev": max_nfev})
    if res is None:
        theta, nfev, njev = run.theta, run.prob.nres, run.prob.njac
    else:
        theta, nfev, njev, status, message = run.outcome(res, algorithm, max_nfev)
    return run.finish(run.final_step(run.k, theta), theta, method="lm", nfev=nfev, njev=njev, status=status,
                      message=message, extra={"algorithm": algorithm})


def _check_lsq_tolerances(algorithm: str, **tolerances: float) -> dict[str, float]:
    """``ftol``, ``xtol``, ``gtol`` checked: non-negative, at least machine epsilon for MINPACK, one of them so."""
    eps = float(np.finfo(float).eps)
    tols = {}
    for name, value in tolerances.items():
        tols[name] = check_positive_float(value, name, allow_zero=algorithm != "lm")
        if algorithm == "lm" and tols[name] < eps:
            raise ValueError(f"{name} must be >= machine epsilon {eps:.3g} for algorithm 'lm', got {value}")
    if all(v < eps for v in tols.values()):
        raise ValueError(f"at least one of ftol, xtol, gtol must be >= machine epsilon {eps:.3g}")
    return tols


def _check_max_nfev(max_nfev: int | None, steps: int, algorithm: str, *, m: int, size: int) -> int:
    """The cap on residual evaluations, default ``100 * (steps + 1)`` (MINPACK: a C int, and ``m >= size``)."""
    max_nfev = 100 * (steps + 1) if max_nfev is None else check_positive_int(max_nfev, "max_nfev")
    if algorithm != "lm":
        return max_nfev
    if m < size:
        raise ValueError(
            f"algorithm 'lm' (MINPACK) needs at least as many data points as parameters: "
            f"m = {m} < n(d+2) = {size}; use algorithm='trf'"
        )
    return min(max_nfev, _MINPACK_MAX_NFEV)


class _Budget(Exception):
    """Raised from MINPACK's Jacobian request to stop at the budget (it has no callback)."""


class _LeastSquaresRun(_Iterates):
    """One :func:`scipy.optimize.least_squares` run: its callbacks count steps and stop at the budget."""

    def __init__(self, prob: _Problem, net: ShallowReLU, *, steps: int, record_every: int,
                 time_limit: float | None, label: str, progress: bool) -> None:
        super().__init__(prob, net, steps=steps, record_every=record_every, time_limit=time_limit, label=label,
                         progress=progress)
        self.steps, self.time_limit = steps, time_limit
        self.budget_message = f"reached steps={steps}"

    def spent(self) -> bool:
        """Whether the budget (steps or wall-clock time) is used up; the message says which."""
        if self.rec.out_of_time():
            self.budget_message = time_limit_message(self.time_limit)
            return True
        return self.k >= self.steps

    def callback(self, intermediate_result) -> None:
        """trf and dogbox: one call per iteration."""
        self.advance(np.array(intermediate_result.x, dtype=np.float64))
        if self.spent():
            raise StopIteration

    def jac_minpack(self, theta: np.ndarray) -> np.ndarray:
        """MINPACK asks for J once per outer iteration, at the accepted iterate: that is a step."""
        if not np.array_equal(theta, self.theta):
            self.advance(np.array(theta, dtype=np.float64))
        if self.spent():
            raise _Budget
        return self.prob.jacobian(theta)

    def solve(self, algorithm: str, options: dict) -> tuple[object | None, str | None, str | None]:
        """Run scipy; ``(result, None, None)``, or ``(None, status, message)`` when stopped from inside."""
        from scipy.optimize import least_squares

        if algorithm == "lm":
            options = options | {"jac": self.jac_minpack}
        else:
            options = options | {"jac": self.prob.jacobian, "callback": self.callback}
        try:
            return least_squares(self.prob.residual, self.theta0, method=algorithm, **options), None, None
        except _Budget:
            return None, BUDGET, self.budget_message
        except KeyboardInterrupt:
            return None, INTERRUPTED, f"interrupted by the user at step {self.k}"
        finally:
            self.bar.close()

    def outcome(self, res, algorithm: str, max_nfev: int) -> tuple[np.ndarray, int, int, str, str]:
        """Final parameters, counts, status and message of a run scipy returned from."""
        theta = np.asarray(res.x, dtype=np.float64)
        if algorithm == "lm" and not np.array_equal(theta, self.theta):
            self.advance(theta)  # an accepted final update whose Jacobian MINPACK never asked for
        njev = int(res.njev) if res.njev is not None else self.prob.njac
        status, message = least_squares_status(res, self.budget_message, max_nfev)
        return theta, int(res.nfev), njev, status, message


def least_squares_status(res, budget_message: str, max_nfev: int | None) -> tuple[str, str]:
    """Status and message of a finished :func:`scipy.optimize.least_squares` run (shared with ``varpro``).

    scipy's status -2 (the callback stopped it: the step budget or the time limit) is
    ``budget_message``, 0 (``max_nfev`` reached) a budget too; otherwise converged or failed as
    scipy says.
    """
    if res.status == -2:
        return BUDGET, budget_message
    if res.status == 0:
        return BUDGET, f"reached max_nfev={max_nfev} residual evaluations"
    return (CONVERGED if res.success else FAILED), str(res.message)
