r"""Variable projection (Golub-Pereyra): the output weights eliminated by least squares.

The loss :math:`L = \frac1{2m}\|N - y\|^2` of a shallow ReLU network is *separable*: with the
inner parameters :math:`\alpha = (W, b)` (the flat vector ``[W.ravel(), b]``) and the features

.. math::

    A(\alpha) = \mathrm{relu}(\tilde X V^\top) \in \mathbb R^{m\times n},
    \qquad V = [W, b],\quad N = A(\alpha)\,c ,

it is linear in :math:`c` and nonlinear in :math:`\alpha`. For fixed :math:`\alpha` the best
:math:`c` is the minimum-norm least-squares solution :math:`c(\alpha) = A^+ y`, and what is left
is the *reduced* (variable-projection) functional

.. math::

    \ell(\alpha) = \min_c L(c, \alpha) = \frac1{2m}\|(I - P(\alpha))\,y\|^2 = \tfrac12\|f(\alpha)\|^2,
    \qquad f(\alpha) = \frac{A c(\alpha) - y}{\sqrt m} = -\frac{P^\perp y}{\sqrt m},

with :math:`P = AA^+` the orthogonal projector onto :math:`\mathrm{range}\,A` and
:math:`P^\perp = I - P`. It is the paper's own object: if the pattern
:math:`D = [\tilde X V^\top > 0]` is frozen, the minimum of :math:`\ell` over the inner
parameters with that pattern is :math:`L^*(D, S)` (:func:`plateau_lib.theory.local_ls_level`),
since :math:`A c = \sum_j c_j D_j \tilde X v_j` and :math:`\beta_j = c_j v_j` ranges over all of
:math:`\mathbb R^{d+1}`.

:func:`train_varpro` minimises :math:`\ell` with :func:`scipy.optimize.least_squares`
(trust-region reflective or dogbox) on :math:`f`, with :math:`c(\alpha)` from a thin SVD of
:math:`A` (the algorithm of ``numpy.linalg.lstsq``, with its default rank cut-off; the normal
equations are never formed).

The Jacobian of the reduced residual
-------------------------------------
Where the pattern does not change, :math:`A` is differentiable in :math:`\alpha`: for the
entry :math:`\alpha_k = V_{jq}` only column :math:`j` moves,

.. math::

    A_k := \frac{\partial A}{\partial \alpha_k} = (D_{:j}\odot \tilde X_{:q})\,e_j^\top .

If the rank of :math:`A` is locally constant, Golub and Pereyra's formula for the derivative
of the projector, :math:`\partial_k P^\perp = -\big(P^\perp A_k A^+ + (P^\perp A_k A^+)^\top\big)`,
gives

.. math::

    \frac{\partial f}{\partial\alpha_k}
      = \frac{1}{\sqrt m}\Big(P^\perp A_k c + (A^+)^\top A_k^\top P^\perp y\Big)
      = \frac{1}{\sqrt m}\Big(c_j\,P^\perp (D_{:j}\odot\tilde X_{:q})
        + g_{jq}\,(A^+)^\top e_j\Big),
    \qquad g_{jq} = \sum_i D_{ij}\tilde X_{iq}\,(P^\perp y)_i .

Kaufman's approximation keeps the first term only,

.. math::

    J_K = \frac{1}{\sqrt m}\,P^\perp B,\qquad
    B = \big[c_j\,D_{:j}\odot\tilde X_{:q}\big]_{(j,q)}
      = \frac{\partial (A c)}{\partial \alpha}\Big|_{c\ \mathrm{fixed}} ,

i.e. the Jacobian of the full residual in :math:`(W, b)` at :math:`c = c(\alpha)`
(:func:`~plateau_lib.network.jacobian_from_preactivations`), projected onto the orthogonal
complement of :math:`\mathrm{range}\,A`. The dropped term is proportional to the residual
:math:`P^\perp y` (through :math:`g`), so :math:`J_K` is exact on consistent problems and
close to the full Jacobian near a good fit; it costs one projection, :math:`O(m\,n\,p)`
flops with :math:`p = n(d+1)`, plus the SVD of :math:`A`, :math:`O(m n^2)`. With
``jacobian="golub-pereyra"`` the full derivative is used (the second term costs
:math:`O(m\,n\,p)` more).

With :math:`A = U_r\Sigma_r V_r^\top` (the singular values above the cut-off),
:math:`c = V_r\Sigma_r^{-1}U_r^\top y`, :math:`P^\perp M = M - U_r(U_r^\top M)` and
:math:`(A^+)^\top e_j = U_r\Sigma_r^{-1}V_r^\top e_j`.

A *step* is one iteration of scipy's loop, as for :func:`~plateau_lib.trainers.scipy_based.train_lm`;
the recorded parameters are the full ``[c, W.ravel(), b]`` with :math:`c = c(\alpha)`, so the
recorded loss is the loss of a network, :math:`\ell(\alpha) = L(c(\alpha), \alpha)`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_choice, check_positive_float, check_positive_int, time_limit_message
from ..network import ShallowReLU, evaluate, jacobian_from_preactivations, split_params
from ..recording import Recorder
from ..result import FAILED, INTERRUPTED, TrainResult
from ._gradient_norm import gradient_norm
from ._progress import progress_bar
from ._run_args import check_run_args
from .scipy_based import least_squares_status

VARPRO_ALGORITHMS = ("trf", "dogbox")
JACOBIANS = ("kaufman", "golub-pereyra")
DEFAULT_STEPS = 200


class Projection(NamedTuple):
    """Everything the reduced residual at one :math:`\\alpha` needs (see the module docstring)."""

    Z: np.ndarray  # pre-activations, (m, n)
    active: np.ndarray  # pattern D = Z > 0
    c: np.ndarray  # c(alpha) = A^+ y, minimum norm
    r: np.ndarray  # A c - y = -P_perp y
    U: np.ndarray  # orthonormal basis of range A, (m, rank)
    pinv_T: np.ndarray  # (A^+)^T = U_r S_r^{-1} V_r^T, (m, n)


def project(alpha: np.ndarray, X: np.ndarray, y: np.ndarray, n: int) -> Projection:
    r"""Eliminate :math:`c`: the pattern, :math:`c(\alpha) = A^+ y` and the residual at ``alpha``.

    ``alpha`` is ``[W.ravel(), b]``. The rank cut-off is ``numpy.linalg.lstsq``'s default,
    :math:`\sigma > \sigma_{\max}\max(m, n)\,\varepsilon`.
    """
    m, d = X.shape
    W, b = alpha[: n * d].reshape(n, d), alpha[n * d :]
    Z = X @ W.T + b
    active = Z > 0
    A = np.maximum(Z, 0.0)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    cutoff = (s[0] if s.size else 0.0) * max(m, n) * np.finfo(float).eps
    keep = s > cutoff
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    c = Vt.T @ ((U.T @ y) / s)
    r = A @ c - y
    return Projection(Z, active, c, r, U, (U / s) @ Vt)


def reduced_jacobian(proj: Projection, X: np.ndarray, kind: str = "kaufman") -> np.ndarray:
    r"""Jacobian of :math:`f = (Ac(\alpha) - y)/\sqrt m` in :math:`\alpha = [W.ravel(), b]`.

    ``kind="kaufman"``: :math:`P^\perp B/\sqrt m`; ``"golub-pereyra"``: plus
    :math:`g_{jq}(A^+)^\top e_j/\sqrt m` (module docstring). No validation.
    """
    m, n = proj.Z.shape
    B = jacobian_from_preactivations(proj.Z, proj.c, X)[:, n:]  # columns [W.ravel(), b] at c fixed
    J = B - proj.U @ (proj.U.T @ B)
    if kind == "golub-pereyra":
        # g_{jq} = sum_i D_ij Xt_iq (P_perp y)_i with P_perp y = -r; columns ordered as B's.
        Dr = proj.active * (-proj.r)[:, None]
        g = np.concatenate([(Dr.T @ X).ravel(), Dr.sum(axis=0)])
        owner = np.concatenate([np.repeat(np.arange(n), X.shape[1]), np.arange(n)])
        J += proj.pinv_T[:, owner] * g
    return J / np.sqrt(m)


class _Reduced:
    """The reduced residual on ``alpha`` with a one-entry cache (scipy asks for f, then J, at one point)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n: int, kind: str) -> None:
        self.X, self.y, self.n, self.kind = X, y, n, kind
        self.sqrt_m = float(np.sqrt(X.shape[0]))
        self._x: np.ndarray | None = None
        self._proj: Projection | None = None
        self.nres = 0
        self.njac = 0

    def at(self, alpha: np.ndarray) -> Projection:
        if self._x is None or not np.array_equal(alpha, self._x):
            self._x = np.array(alpha, dtype=np.float64)
            self._proj = project(self._x, self.X, self.y, self.n)
        return self._proj

    def residual(self, alpha: np.ndarray) -> np.ndarray:
        self.nres += 1
        return self.at(alpha).r / self.sqrt_m

    def jacobian(self, alpha: np.ndarray) -> np.ndarray:
        self.njac += 1
        return reduced_jacobian(self.at(alpha), self.X, self.kind)

    def state(self, alpha: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """Pattern, loss and full parameters ``[c, W.ravel(), b]`` of the network at ``alpha``."""
        proj = self.at(alpha)
        return proj.active, float(proj.r @ proj.r) / (2 * self.X.shape[0]), np.concatenate([proj.c, alpha])


def _final_step(k: int, alpha: np.ndarray, last: tuple[int, np.ndarray]) -> int:
    """Step of the returned parameters: ``k``, or one more if they differ from the last recorded iterate ``last``."""
    k = max(k, last[0])
    return k + 1 if k == last[0] and not np.array_equal(alpha, last[1]) else k


def _check_tolerances(ftol: float, xtol: float, gtol: float) -> dict[str, float]:
    tols = {name: check_positive_float(value, name, allow_zero=True)
            for name, value in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol))}
    eps = float(np.finfo(float).eps)
    if all(v < eps for v in tols.values()):
        raise ValueError(f"at least one of ftol, xtol, gtol must be >= machine epsilon {eps:.3g}")
    return tols


def _outcome(res, prob: _Reduced, budget_message: str, max_nfev: int | None):
    """The end point, evaluation counts, status and message of a finished ``least_squares`` run."""
    njev = int(res.njev) if res.njev is not None else prob.njac
    status, message = least_squares_status(res, budget_message, max_nfev)
    return np.asarray(res.x, dtype=np.float64), int(res.nfev), njev, status, message


def train_varpro(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    steps: int = DEFAULT_STEPS,
    algorithm: str = "trf",
    jacobian: str = "kaufman",
    record_every: int = 1,
    ftol: float = 1e-12,
    xtol: float = 1e-12,
    gtol: float = 1e-12,
    max_nfev: int | None = None,
    progress: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    r"""Minimise the reduced functional :math:`\ell(W, b) = \min_c L` by variable projection.

    Each iteration is a trust-region Gauss-Newton step of
    :func:`scipy.optimize.least_squares` on :math:`f(\alpha) = (A c(\alpha) - y)/\sqrt m` with
    :math:`c(\alpha) = A^+ y` (minimum-norm least squares) and Kaufman's (or Golub and
    Pereyra's) Jacobian; see the module docstring for the derivation.

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified); its ``c`` is not used (it is eliminated).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    steps : int
        Maximal number of iterations.
    algorithm : {"trf", "dogbox"}
        :func:`scipy.optimize.least_squares` method (both report every iteration).
    jacobian : {"kaufman", "golub-pereyra"}
        Kaufman's approximate Jacobian (default) or the full derivative.
    record_every : int
        Record every this many iterations (and at every pattern change).
    ftol, xtol, gtol : float
        scipy's tolerances on the relative reduction of :math:`\ell`, the relative step and
        the scaled gradient (at least one must be >= machine epsilon).
    max_nfev : int, optional
        Cap on residual evaluations; default ``100 * (steps + 1)``.
    progress : bool
        Show a progress bar.
    time_limit : float, optional
        Stop after the first iteration that ends past this many wall-clock seconds
        (``status="budget"``). ``None``: no limit.

    Returns
    -------
    TrainResult
        ``method="varpro"``; step 0 is the initial :math:`(W, b)` with :math:`c = A^+ y` (not
        the network's own ``c``), so the first recorded loss is :math:`\ell` at the start.
        ``nfev`` and ``njev`` count residual and Jacobian evaluations.
    """
    net, X, y, steps, record_every, time_limit = check_run_args(net, X, y, steps, record_every, time_limit)
    algorithm = check_choice(algorithm, "algorithm", VARPRO_ALGORITHMS)
    kind = check_choice(jacobian, "jacobian", JACOBIANS)
    tols = _check_tolerances(ftol, xtol, gtol)
    max_nfev = 100 * (steps + 1) if max_nfev is None else check_positive_int(max_nfev, "max_nfev")

    from scipy.optimize import least_squares

    prob = _Reduced(X, y, net.n, kind)
    rec = Recorder(record_every, net.n, net.d, time_limit)
    alpha0 = np.concatenate([net.W.ravel(), net.b])
    state = {"k": 0, "theta": alpha0}
    rec.observe(0, *prob.state(alpha0))
    bar = progress_bar(steps, "varpro", progress)
    budget_message = f"reached steps={steps}"

    def callback(intermediate_result) -> None:
        nonlocal budget_message
        alpha = np.array(intermediate_result.x, dtype=np.float64)
        state["k"] += 1
        state["theta"] = alpha
        rec.observe(state["k"], *prob.state(alpha))
        bar.update(1)
        if rec.out_of_time():
            budget_message = time_limit_message(time_limit)
            raise StopIteration
        if state["k"] >= steps:
            raise StopIteration

    res = None
    try:
        res = least_squares(prob.residual, alpha0, jac=prob.jacobian, method=algorithm, callback=callback,
                            max_nfev=max_nfev, **tols)
    except KeyboardInterrupt:
        status, message = INTERRUPTED, f"interrupted by the user at step {state['k']}"
    except np.linalg.LinAlgError as exc:
        # The trust-region step's SVD of the Jacobian can fail to converge (far from the data, an
        # ill-scaled Jacobian): the run ends there, as a failure, with its last accepted point.
        status, message = FAILED, f"the trust-region step failed at step {state['k']}: {exc}"
    finally:
        bar.close()
    if res is None:
        alpha, nfev, njev = state["theta"], prob.nres, prob.njac
    else:
        alpha, nfev, njev, status, message = _outcome(res, prob, budget_message, max_nfev)
    active, loss, theta = prob.state(alpha)
    k = _final_step(state["k"], alpha, (state["k"], state["theta"]))
    final = evaluate(*split_params(theta, net.n, net.d), X, y)
    return rec.finish(k, active, loss, theta, method="varpro", nfev=nfev, njev=njev,
                      status=status, message=message, grad_norm=gradient_norm(final))


__all__ = ["JACOBIANS", "VARPRO_ALGORITHMS", "project", "reduced_jacobian", "train_varpro"]
