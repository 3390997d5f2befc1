"""Trainers: every one takes ``(net, X, y)`` plus keyword-only options and returns a
:class:`~plateau_lib.result.TrainResult`."""

from .first_order import train_adam, train_gd
from .flow import train_flow
from .scipy_based import train_lbfgs, train_lm

__all__ = ["train_adam", "train_flow", "train_gd", "train_lbfgs", "train_lm"]
