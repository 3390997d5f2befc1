"""Dense linear-algebra helpers shared by the science modules."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def range_basis(A: FloatArray, rtol: float | None = None) -> FloatArray:
    r"""Orthonormal basis :math:`U` of :math:`\operatorname{range}(A)`, from the thin SVD :math:`A = U\Sigma V^T`.

    The columns of :math:`U` whose singular value exceeds ``rtol`` times the largest are kept, so
    :math:`UU^T` is the orthogonal projector onto the numerical range of :math:`A`.

    Parameters
    ----------
    A : ndarray, shape (m, k)
        Any real matrix (``k = 0`` gives an (m, 0) basis).
    rtol : float, optional
        Relative rank cut-off. Default :math:`\max(m, k)\,\varepsilon`, the cut-off of
        :func:`numpy.linalg.matrix_rank` and of ``numpy.linalg.lstsq(rcond=None)``.

    Returns
    -------
    ndarray, shape (m, r)
        Orthonormal columns, :math:`r` the numerical rank (0 for a zero matrix).
    """
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D array, got shape {A.shape}")
    if A.shape[1] == 0 or A.shape[0] == 0:
        return np.zeros((A.shape[0], 0))
    U, sv, _ = np.linalg.svd(A, full_matrices=False)
    if sv[0] == 0:
        return np.zeros((A.shape[0], 0))
    cutoff = (max(A.shape) * np.finfo(float).eps if rtol is None else rtol) * sv[0]
    return U[:, sv > cutoff]
