r"""First-order trainers: full-batch gradient descent and Adam.

Both share one loop: evaluate the loss, pattern and gradient at the current
parameters (one pass, :func:`~plateau_lib.network.evaluate`), hand the pattern
to the :class:`~plateau_lib.recording.Recorder`, then update in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_positive_float, time_limit_message
from ..network import Evaluation, ShallowReLU, evaluate, split_params
from ..recording import Recorder
from ..result import BUDGET, CONVERGED, FAILED, INTERRUPTED, TrainResult
from ._gradient_norm import gradient_norm
from ._progress import progress_bar
from ._run_args import check_run_args

#: Default budget of the first-order trainers: updates (1000 time units of the flow at ``lr=0.1``).
DEFAULT_STEPS = 10_000
#: Adam's default step size, Kingma & Ba's (and torch's, Keras's): Adam's step is normalised
#: per coordinate, so its size in parameter units does not depend on the gradient's scale.
ADAM_LR = 1e-3

Update = Callable[[Evaluation, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _theta(c: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([c, W.ravel(), b])


def _run(
    net: ShallowReLU,
    X: np.ndarray,
    y: np.ndarray,
    update: Update,
    *,
    method: str,
    steps: int,
    record_every: int,
    gtol: float,
    progress: bool,
    time_limit: float | None,
) -> TrainResult:
    # c, W, b are views into one parameter vector theta (layout of ShallowReLU.to_vector), so
    # the in-place updates keep theta current and no step has to concatenate it.
    n, d = net.n, net.d
    theta = net.to_vector()
    c, W, b = split_params(theta, n, d)
    rec = Recorder(record_every, n, d, time_limit)
    message, status, k = f"reached steps={steps}", BUDGET, 0
    bar = progress_bar(steps, method, progress)
    try:
        while True:
            ev = evaluate(c, W, b, X, y)
            if k == steps or not math.isfinite(ev.loss):
                break
            if rec.out_of_time():
                message = time_limit_message(time_limit)
                break
            rec.observe(k, ev.active, ev.loss, theta)
            if gtol > 0 and gradient_norm(ev) <= gtol:
                message, status = f"gradient norm <= gtol={gtol:g}", CONVERGED
                break
            dc, dW, db = update(ev, k)
            c -= dc
            W -= dW
            b -= db
            k += 1
            if k % record_every == 0:
                bar.update(record_every)
    except KeyboardInterrupt:
        message, status = f"interrupted by the user at step {k}", INTERRUPTED
        ev = evaluate(c, W, b, X, y)
    finally:
        bar.close()
    if not np.isfinite(ev.loss):
        message, status = f"loss became non-finite at step {k} (step size too large?)", FAILED
    return rec.finish(
        k, ev.active, ev.loss, theta,
        method=method, nfev=k + 1, njev=k + 1, status=status, message=message, grad_norm=gradient_norm(ev),
    )


def check_gd_step_size(lr: float | None) -> float:
    r"""Require gradient descent's step size, saying what to pass when it is missing.

    There is no default: the number of steps a plateau lasts scales like :math:`1/\eta`, and
    a step above :math:`2/\lambda_{\max}` of the loss's Hessian diverges, a bound that depends
    on the data's scale.
    """
    if lr is None:
        raise TypeError(
            "gradient descent needs its step size: pass lr=..., e.g. train(net, X, y, 'gd', lr=0.1) or "
            "train_gd(net, X, y, lr=0.1) (0.1 is the step of the book's 1-D experiments); a plateau "
            "lasts about 1/lr times as many steps, so no default is assumed"
        )
    return check_positive_float(lr, "lr")


def train_gd(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | None = None,
    steps: int = DEFAULT_STEPS,
    record_every: int = 1,
    gtol: float = 0.0,
    progress: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    r"""Full-batch gradient descent :math:`\theta_{k+1} = \theta_k - \eta\,\nabla L(\theta_k)`.

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    lr : float
        Step size :math:`\eta > 0`, required (:func:`check_gd_step_size` says why; a missing
        ``lr`` is a ``TypeError`` saying what to pass).
    steps : int
        Maximal number of updates (default :data:`DEFAULT_STEPS`).
    record_every : int
        Record loss, counts and parameters every this many steps; pattern changes
        are detected at every step and always recorded.
    gtol : float
        Stop early once :math:`\|\nabla L\|_2 \le` ``gtol`` (0 disables).
    progress : bool
        Show a progress bar.
    time_limit : float, optional
        Stop once this many wall-clock seconds have passed (checked before every update;
        ``status="budget"``). ``None``: no limit.

    Returns
    -------
    TrainResult
        ``loss[i]`` is the loss after ``steps[i]`` updates. Ctrl-C stops the loop
        and returns what was computed so far (``status="interrupted"``).
    """
    net, X, y, steps, record_every, time_limit = check_run_args(net, X, y, steps, record_every, time_limit)
    gtol = check_positive_float(gtol, "gtol", allow_zero=True)
    lr = check_gd_step_size(lr)

    def update(ev: Evaluation, k: int):
        return lr * ev.gc, lr * ev.gW, lr * ev.gb

    return _run(net, X, y, update, method="gd", steps=steps, record_every=record_every,
                gtol=gtol, progress=progress, time_limit=time_limit)


def train_adam(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float = ADAM_LR,
    steps: int = DEFAULT_STEPS,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    record_every: int = 1,
    gtol: float = 0.0,
    progress: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    r"""Full-batch Adam (Kingma & Ba) with bias correction.

    .. math::

        m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k,\quad
        v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2,\quad
        \theta_{k+1} = \theta_k - \eta\,\frac{m_k/(1-\beta_1^{k+1})}{\sqrt{v_k/(1-\beta_2^{k+1})}+\epsilon}.

    The step size ``lr`` defaults to :data:`ADAM_LR`; the other parameters and the return value
    are as in :func:`train_gd`.
    """
    net, X, y, steps, record_every, time_limit = check_run_args(net, X, y, steps, record_every, time_limit)
    gtol = check_positive_float(gtol, "gtol", allow_zero=True)
    lr = check_positive_float(lr, "lr")
    eps = check_positive_float(eps, "eps")
    beta1, beta2 = (float(v) for v in betas)
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"betas must lie in [0, 1), got {betas}")
    moments = [np.zeros(net.size), np.zeros(net.size)]
    n, d = net.n, net.d

    def update(ev: Evaluation, k: int):
        g = _theta(ev.gc, ev.gW, ev.gb)
        m1, m2 = moments
        m1 *= beta1
        m1 += (1 - beta1) * g
        m2 *= beta2
        m2 += (1 - beta2) * g * g
        step = lr * (m1 / (1 - beta1 ** (k + 1))) / (np.sqrt(m2 / (1 - beta2 ** (k + 1))) + eps)
        return split_params(step, n, d)

    return _run(net, X, y, update, method="adam", steps=steps, record_every=record_every,
                gtol=gtol, progress=progress, time_limit=time_limit)
