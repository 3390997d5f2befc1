r"""The gradient norm every trainer reports at its final point (:attr:`~plateau_lib.result.TrainResult.grad_norm`)."""

from __future__ import annotations

import numpy as np

from ..network import Evaluation


def gradient_norm(ev: Evaluation) -> float:
    r""":math:`\|\nabla L\|_2 = (\|\nabla_c L\|^2 + \|\nabla_W L\|_F^2 + \|\nabla_b L\|^2)^{1/2}` of one evaluation.

    ``np.add.reduce(., axis=None)`` is what ``np.sum`` calls, without its Python wrapper (a third
    of the cost on small networks, where gradient descent evaluates it at every step when
    ``gtol > 0``).
    """
    return float(np.sqrt(ev.gc @ ev.gc + np.add.reduce(ev.gW**2, axis=None) + ev.gb @ ev.gb))
