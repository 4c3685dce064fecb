"""Argument checks shared by the package: each raises naming the argument and the accepted range.

Every public function and constructor of :mod:`pgnotes` checks its arguments with these
helpers before doing any work, so bad input gives one ``ValueError`` or ``TypeError`` whose
message names the argument, says what is accepted and shows what was given. Sizes have upper
bounds (:data:`MAX_COUNT`, :data:`MAX_ELEMENTS`) so that a typo such as ``popsize=10**9``
is an error instead of an attempt to allocate tens of GiB.
"""

from __future__ import annotations

import difflib
import numbers
from typing import Any, Iterable

import numpy as np

#: Upper bound of any count a user passes (population sizes, episodes, steps, iterations...).
MAX_COUNT = 10**8
#: Upper bound of the number of float64 entries one array the package allocates may hold (8 GiB).
MAX_ELEMENTS = 2**30


class NonFiniteUpdateError(ValueError, FloatingPointError):
    """An update would have produced non-finite state; the object was left unchanged.

    A ``ValueError`` (the arguments were outside what the update can handle) and a
    ``FloatingPointError`` (what such overflow used to raise), so either ``except`` catches it.
    """


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive(name: str, value: float) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise ValueError naming ``name``."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number > 0, got {type(value).__name__} {_shown(value)}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def non_negative(name: str, value: float) -> float:
    """Return ``value`` as float if it is finite and >= 0, else raise ValueError naming ``name``."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number >= 0, got {type(value).__name__} {_shown(value)}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def real(name: str, value: float, low: float | None = None, high: float | None = None, *,
         low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as float if it is a finite real number in the given interval, else raise naming ``name``."""
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (")" if high_open or high is None else "]")
    if not _is_real(value):
        raise TypeError(f"{name} must be a finite real number in {interval}, got {type(value).__name__} {_shown(value)}")
    v = float(value)
    ok = np.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ValueError(f"{name} must be a finite real number in {interval}, got {value!r}")
    return v


def integer_at_least(name: str, value: int, minimum: int, maximum: int | None = MAX_COUNT) -> int:
    """Return ``value`` if it is an integer in [``minimum``, ``maximum``], else raise naming ``name``.

    The default upper bound :data:`MAX_COUNT` keeps a typo from starting an endless loop or a
    huge allocation; pass ``maximum=None`` for no bound.
    """
    accepted = f">= {minimum}" if maximum is None else f">= {minimum} and <= {maximum}"
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer {accepted}, got {type(value).__name__} {_shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {accepted}, got {value}")
    return int(value)


def integer_in(name: str, value: int, minimum: int, maximum: int) -> int:
    """Return ``value`` if it is an integer in [``minimum``, ``maximum``], else raise naming ``name``."""
    return integer_at_least(name, value, minimum, maximum)


def optional_integer(name: str, value, minimum: int, maximum: int | None = MAX_COUNT):
    """``None`` or an integer in [``minimum``, ``maximum``]."""
    return None if value is None else integer_at_least(name, value, minimum, maximum)


def probability(name: str, value: float, *, open_low: bool = True, open_high: bool = False) -> float:
    """Return ``value`` if it lies in (0, 1] (bounds configurable), else raise naming ``name``."""
    interval = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")
    if not _is_real(value):
        raise TypeError(f"{name} must be a number in {interval}, got {type(value).__name__} {_shown(value)}")
    value = float(value)
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value < 1 if open_high else value <= 1
    if not (np.isfinite(value) and low_ok and high_ok):
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def boolean(name: str, value) -> bool:
    """Return ``value`` if it is a bool (numpy bools accepted), else raise TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {_shown(value)}")
    return bool(value)


def one_of(name: str, value, choices: Iterable):
    """Return ``value`` if it is one of ``choices``, else raise ValueError (TypeError if unhashable) naming ``name``."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:
        ok = False
    if not ok:
        if isinstance(value, (str, numbers.Number)) or value is None:
            raise ValueError(f"{name} must be one of {choices}, got {_shown(value)}")
        raise TypeError(f"{name} must be one of {choices}, got {type(value).__name__} {_shown(value)}")
    return value


def string(name: str, value) -> str:
    """Return ``value`` if it is a non-empty str, else raise naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {_shown(value)}")
    if not value:
        raise ValueError(f"{name} must be a non-empty string, got ''")
    return value


def callable_(name: str, value):
    """Return ``value`` if it is callable, else raise TypeError naming ``name``."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__} {_shown(value)}")
    return value


def instance(name: str, value, types, what: str | None = None):
    """Return ``value`` if it is an instance of ``types``, else raise TypeError naming ``name``."""
    if not isinstance(value, types):
        if what is None:
            ts = types if isinstance(types, tuple) else (types,)
            what = " or ".join(t.__name__ for t in ts)
        raise TypeError(f"{name} must be a {what}, got {type(value).__name__} {_shown(value)}")
    return value


def mapping(name: str, value, required: Iterable[str] = ()) -> dict:
    """Return ``value`` if it is a dict holding every key of ``required``, else raise naming ``name``."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict (from state_dict()), got {type(value).__name__} {_shown(value)}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ValueError(f"{name} is missing the keys {missing}; is it a state_dict() of this class?")
    return value


def _as_float_array(name: str, value) -> np.ndarray:
    if isinstance(value, (str, bytes, dict, set)) or value is None:
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__} {_shown(value)}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be an array of real numbers (a rectangular list, tuple or ndarray), "
            f"got {type(value).__name__} {_shown(value)} ({error})"
        ) from None
    return array


def finite_array(name: str, value, *, ndim: int | None = None, shape: tuple | None = None,
                 min_size: int = 0, max_size: int | None = MAX_ELEMENTS) -> np.ndarray:
    """Return ``value`` as a float64 array after checking finiteness, ``ndim``, ``shape`` and size.

    A ``None`` entry in ``shape`` accepts any length on that axis.
    """
    array = _as_float_array(name, value)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if shape is not None:
        if array.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(array.shape, shape)
        ):
            expected = tuple("any" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    if array.size < min_size:
        raise ValueError(f"{name} must hold at least {min_size} value(s), got shape {array.shape}")
    if max_size is not None and array.size > max_size:
        raise ValueError(f"{name} must hold at most {max_size} values, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array.ravel()))
        raise ValueError(
            f"{name} must contain only finite values (no NaN or inf); got {bad.size} non-finite "
            f"value(s), the first {float(array.ravel()[bad[0]])!r} at flat index {int(bad[0])}"
        )
    return array


def finite_vector(name: str, value, *, size: int | None = None, min_size: int = 1) -> np.ndarray:
    """A finite 1-D float64 array (of length ``size`` when given, at least ``min_size`` long)."""
    return finite_array(name, value, shape=(size,), min_size=min_size)


def allocation(name: str, *sizes: int) -> int:
    """Raise ValueError naming ``name`` if an array of shape ``sizes`` would exceed :data:`MAX_ELEMENTS`."""
    total = 1
    for s in sizes:
        total *= int(s)
    if total > MAX_ELEMENTS:
        raise ValueError(
            f"{name} asks for an array of shape {tuple(int(s) for s in sizes)} ({total} values, "
            f"{total * 8 / 2**30:.1f} GiB as float64); at most {MAX_ELEMENTS} values are allowed"
        )
    return total


def generator(rng, name: str = "rng") -> np.random.Generator:
    """Accept a ``numpy.random.Generator`` or an integer seed; anything else is an error."""
    if isinstance(rng, np.random.Generator):
        return rng
    if _is_int(rng):
        if rng < 0:
            raise ValueError(f"{name} must be a numpy.random.Generator or an integer seed >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or an integer seed, got {type(rng).__name__} {_shown(rng)}")


def seed(name: str, value) -> int:
    """An integer seed >= 0 (numpy integers accepted; floats such as 1.5 are an error, not truncated)."""
    return integer_at_least(name, value, 0, None)


def env_id(name: str, value) -> str:
    """Return ``value`` if it is a registered Gymnasium environment id, else one ValueError naming it."""
    import gymnasium as gym

    value = string(name, value)
    if value not in gym.envs.registry:
        close = difflib.get_close_matches(value, list(gym.envs.registry), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"{name} must be a registered Gymnasium environment id, got {value!r}{hint}")
    return value


def check_finite_state(owner: str, state: dict) -> None:
    """Raise :class:`NonFiniteUpdateError` if a float array or number in ``state`` is not finite."""
    bad = []
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            if not np.all(np.isfinite(value)):
                bad.append(key)
        elif isinstance(value, float) and not np.isfinite(value):
            bad.append(key)
    if bad:
        raise NonFiniteUpdateError(
            f"{owner}: this update would make {', '.join(bad)} non-finite (NaN or inf), usually because x or "
            "fitness is far outside the range of the search distribution; the solver was left unchanged"
        )
