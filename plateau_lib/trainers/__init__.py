"""Trainers: every one takes ``(net, X, y)`` plus keyword-only options and returns a
:class:`~plateau_lib.result.TrainResult`; :func:`train` is the one front door to all of them
(OGA, which grows its network, takes the data and a width)."""

from .anls import PRESETS, preset_options, threshold_gains, train_anls
from .first_order import train_adam, train_gd
from .flow import train_flow
from .front_door import BUDGETS, METHODS, TRAINERS, train
from .greedy import train_oga
from .scipy_based import train_lbfgs, train_lm
from .varpro import train_varpro

__all__ = ["BUDGETS", "METHODS", "PRESETS", "TRAINERS", "preset_options", "threshold_gains", "train", "train_adam",
           "train_anls", "train_flow", "train_gd", "train_lbfgs", "train_lm", "train_oga",
           "train_varpro"]
