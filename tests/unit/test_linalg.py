"""range_basis: an orthonormal basis of the numerical range."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from plateau_lib._linalg import range_basis


def test_range_basis_spans_the_range_of_a_rank_deficient_matrix():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((9, 2)) @ rng.standard_normal((2, 5))  # rank 2
    U = range_basis(A)
    assert U.shape == (9, np.linalg.matrix_rank(A)) == (9, 2)
    assert_allclose(U.T @ U, np.eye(2), atol=1e-14)
    assert_allclose(U @ (U.T @ A), A, atol=1e-12)  # the projector fixes every column of A


def test_range_basis_cut_off_follows_rtol():
    A = np.diag([1.0, 1e-9, 0.0])
    assert range_basis(A).shape == (3, 2)
    assert range_basis(A, rtol=1e-6).shape == (3, 1)


@pytest.mark.parametrize("shape", [(4, 0), (0, 3)])
def test_range_basis_of_an_empty_matrix_is_empty(shape):
    assert range_basis(np.zeros(shape)).shape == (shape[0], 0)


def test_range_basis_of_zero_is_empty_and_rejects_vectors():
    assert range_basis(np.zeros((3, 2))).shape == (3, 0)
    with pytest.raises(ValueError, match="2-D"):
        range_basis(np.ones(3))
