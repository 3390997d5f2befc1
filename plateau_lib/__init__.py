"""plateau_lib: shallow ReLU networks, the plateaus of gradient descent, and how to avoid them.

The library behind the plateau companion book (Ainsworth & Shin, SIAM J. Sci. Comput. 2021).
Data flows one way: network -> trainers -> patterns and theory -> experiments -> plotting.
"""

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
from .result import TrainResult
from .trainers import train_adam, train_gd

__all__ = [
    "ShallowReLU",
    "TrainResult",
    "activation_counts",
    "activation_pattern",
    "breakpoints_1d",
    "gradient",
    "init_network",
    "jacobian",
    "loss",
    "residual",
    "train_adam",
    "train_gd",
]
__version__ = "0.1.0"
