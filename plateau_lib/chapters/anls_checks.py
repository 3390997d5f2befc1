r"""Chapter 4's checks on its own records: recorded losses are the stored parameters' losses, and never rise.

:func:`recomputed_losses` recomputes every recorded loss from the stored parameters
(:data:`RECOMPUTE_RTOL`), :func:`largest_rise` finds the largest increase over loss histories,
and :func:`anls_loss_histories` collects every ANLS history of the chapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..network import loss as network_loss
from ..result import TrainResult
from .anls_from_stationary import AnlsFromStationary
from .anls_sweep import SweepAnatomy
from .anls_variants import VariantRow
from .anls_vs_gd import GdVsAnls

FloatArray = NDArray[np.float64]


def anls_loss_histories(race: GdVsAnls, sweep: SweepAnatomy, rest: AnlsFromStationary,
                        variant_rows: Sequence[VariantRow]) -> list[FloatArray]:
    """Every recorded ANLS loss history of the chapter (its check 4: none may rise).

    In order: ANLS of the race, the sweep from the plateau (as recorded, and update by update), the runs from
    the stationary point, and the variant runs.
    """
    return [
        race.anls.loss,
        sweep.result.loss,
        sweep.kept_loss(),
        *(r.loss for r in rest.runs.values()),
        *(np.array(r.curve) for r in variant_rows),
    ]


#: Largest relative disagreement allowed between a trainer's recorded loss and the loss recomputed
#: from the stored parameters (:func:`recomputed_losses`): both sum the same :math:`m` squares of
#: residuals of the same parameters, so they differ by summation order at most, a few
#: :math:`(m + n + d)\,u \approx 10^{-14}` relative on this chapter's data; a record that belongs to
#: other parameters (a bookkeeping bug) is off by far more.
RECOMPUTE_RTOL = 1e-12


def recomputed_losses(result: TrainResult, X: ArrayLike, y: ArrayLike) -> tuple[FloatArray, float]:
    r"""The loss at every record of ``result`` recomputed from its stored parameters, and its largest disagreement.

    :math:`L_k = \frac1{2m}\|N_{\theta_k}(X) - y\|^2` by :func:`~plateau_lib.network.loss` (a forward
    pass), independent of the trainer's own bookkeeping.

    Returns
    -------
    losses : ndarray
        One per record.
    disagreement : float
        :math:`\max_k |L_k - \text{recorded}_k| / \max(\text{recorded}_k, \text{tiny})`.
    """
    losses = np.array([network_loss(result.net_at(k), X, y) for k in range(len(result.steps))])
    recorded = np.asarray(result.loss, dtype=float)
    tiny = np.finfo(np.float64).tiny
    return losses, float(np.max(np.abs(losses - recorded) / np.maximum(recorded, tiny)))


def largest_rise(histories: Sequence[ArrayLike]) -> float:
    """The largest increase between consecutive records over all ``histories`` (0 if none rises).

    Raises
    ------
    ValueError
        If ``histories`` is empty.
    """
    histories = list(histories)
    if not histories:
        raise ValueError("histories must hold at least one loss history")
    return max(float(np.max(np.diff(np.asarray(h, dtype=float)), initial=0.0)) for h in histories)
