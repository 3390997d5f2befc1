"""plateau_lib: shallow ReLU networks, the plateaus of gradient descent, and how to avoid them.

The library behind the plateau companion book (Ainsworth & Shin, SIAM J. Sci. Comput. 2021).
Data flows one way: network -> trainers -> patterns, theory, fixed-pattern dynamics and
stationarity -> experiments -> plotting. The chapters' studies (:mod:`plateau_lib.chapters`) and
the book's tooling (:mod:`plateau_lib.book`) build on this package; it never imports them.
"""

from .lower_bound import segmentation_fit, segmentation_lower_bound
from .network import (
    ShallowReLU,
    activation_counts,
    activation_pattern,
    breakpoints_1d,
    gradient,
    init_network,
    jacobian,
    loss,
    residual,
)
from .patterns import (
    Plateau,
    PlateauMatch,
    Segment,
    detect_plateaus,
    match_plateaus,
    pattern_segments,
    raw_segments,
    relate,
)
from .result import TrainResult
from .stationarity import (
    PatternCell,
    PolishResult,
    pattern_cells,
    polish_to_stationarity,
    predicted_undetermined_1d,
    stationarity_scores,
    undetermined_cells_1d,
)
from .theory import (
    cells_1d,
    conserved_quantities,
    convergence_bound,
    escape_rate,
    kernel,
    kernel_lambda,
    local_ls_fit,
    local_ls_level,
    lstar_of_network,
    neuron_contributions,
    predicted_escape_time,
    significant_neurons,
    smallest_positive_eigenvalue,
    stationarity_residuals,
)
from .trainers import (
    threshold_gains,
    train,
    train_adam,
    train_anls,
    train_flow,
    train_gd,
    train_lbfgs,
    train_lm,
    train_oga,
)

__all__ = [
    "PatternCell",
    "Plateau",
    "PlateauMatch",
    "PolishResult",
    "Segment",
    "ShallowReLU",
    "TrainResult",
    "activation_counts",
    "activation_pattern",
    "breakpoints_1d",
    "cells_1d",
    "conserved_quantities",
    "convergence_bound",
    "detect_plateaus",
    "escape_rate",
    "gradient",
    "init_network",
    "jacobian",
    "kernel",
    "kernel_lambda",
    "local_ls_fit",
    "local_ls_level",
    "loss",
    "lstar_of_network",
    "match_plateaus",
    "neuron_contributions",
    "pattern_cells",
    "pattern_segments",
    "polish_to_stationarity",
    "predicted_escape_time",
    "predicted_undetermined_1d",
    "raw_segments",
    "relate",
    "residual",
    "segmentation_fit",
    "segmentation_lower_bound",
    "significant_neurons",
    "smallest_positive_eigenvalue",
    "stationarity_residuals",
    "stationarity_scores",
    "threshold_gains",
    "train",
    "train_adam",
    "train_anls",
    "train_flow",
    "train_gd",
    "train_lbfgs",
    "train_lm",
    "train_oga",
    "undetermined_cells_1d",
]
__version__ = "0.1.0"
