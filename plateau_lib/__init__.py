"""plateau_lib: shallow ReLU networks, the plateaus of gradient descent, and how to avoid them.

The library behind the plateau companion book (Ainsworth & Shin, SIAM J. Sci. Comput. 2021).
Data flows one way: network -> trainers -> patterns and theory -> experiments -> plotting.
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
from .trainers import train_adam, train_flow, train_gd, train_lbfgs, train_lm

__all__ = [
    "Plateau",
    "PlateauMatch",
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
    "pattern_segments",
    "predicted_escape_time",
    "raw_segments",
    "relate",
    "residual",
    "segmentation_fit",
    "segmentation_lower_bound",
    "significant_neurons",
    "smallest_positive_eigenvalue",
    "stationarity_residuals",
    "train_adam",
    "train_flow",
    "train_gd",
    "train_lbfgs",
    "train_lm",
]
__version__ = "0.1.0"
