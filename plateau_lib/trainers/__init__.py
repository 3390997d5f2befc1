"""Trainers: every one takes ``(net, X, y)`` plus keyword-only options and returns a
:class:`~plateau_lib.result.TrainResult`."""

from .first_order import train_adam, train_gd

__all__ = ["train_adam", "train_gd"]
