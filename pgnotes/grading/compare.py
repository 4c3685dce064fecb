"""Plain values, comparisons and summaries: the trusted half of grading.

Two steps keep a learner's objects away from the verdict:

1. :func:`to_plain` turns what a learner's function returned into *plain* JSON values (None,
   bool, int, float, str, lists, string-keyed dicts, and ``{"__ndarray__", "shape", "dtype"}``
   for numeric arrays). It accepts only exact built-in, numpy and torch types, never calls a
   learner-defined method, and rejects anything else (so a rigged ``__eq__``, ``__float__`` or
   ``__array__`` is never consulted). In ``pgnotes grade`` it runs inside the sandboxed child.
2. :func:`validate_plain` re-checks, on the trusted side, that a value decoded from JSON has
   only those types; :func:`compare` then decides pass/fail from plain values and the case.

One module of about 440 lines because conversion, validation, summaries and comparison share
one definition of a plain value (the tags, depth and size limits above): split, the two
sides of the sandbox could disagree about what a value is.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

MAX_DEPTH = 40
MAX_ELEMENTS = 5_000_000


class UnsupportedValue(TypeError):
    """A returned object that cannot be graded (type, size or nesting)."""


def _numpy_scalar(x) -> bool:
    return isinstance(x, np.generic) and type(x).__module__ == "numpy"


def to_plain(x, _depth: int = 0):
    """Convert a learner's return value into plain JSON values, or raise UnsupportedValue."""
    if _depth > MAX_DEPTH:
        raise UnsupportedValue("the result is nested too deeply")
    kind = type(x)
    if x is None or kind in (bool, int, str):
        return x
    if kind is float:
        return x
    if _numpy_scalar(x):
        if x.dtype.kind not in "biuf":
            raise UnsupportedValue(f"unsupported numpy scalar of dtype {x.dtype}")
        return x.item()
    if kind is np.ndarray:
        if x.dtype.kind not in "biuf":
            raise UnsupportedValue(f"unsupported array dtype {x.dtype} (numbers or booleans only)")
        if x.size > MAX_ELEMENTS:
            raise UnsupportedValue(f"the result array has {x.size} elements (at most {MAX_ELEMENTS})")
        return {"__ndarray__": x.tolist(), "shape": list(x.shape), "dtype": str(x.dtype)}
    torch = sys.modules.get("torch")
    if torch is not None and kind in (torch.Tensor, torch.nn.Parameter):
        return to_plain(x.detach().cpu().numpy(), _depth + 1)
    if kind in (list, tuple):
        if len(x) > MAX_ELEMENTS:
            raise UnsupportedValue("the result list is too long")
        return [to_plain(v, _depth + 1) for v in x]
    if kind is dict:
        if not all(type(k) is str for k in x):
            raise UnsupportedValue("dict results must have string keys")
        return {k: to_plain(v, _depth + 1) for k, v in x.items()}
    raise UnsupportedValue(
        f"unsupported return type {kind.__name__!s}: return numbers, numpy arrays, lists, tuples or dicts")


def validate_plain(x, _depth: int = 0) -> None:
    """Raise UnsupportedValue unless ``x`` consists of plain JSON types only (trusted-side check)."""
    if _depth > MAX_DEPTH:
        raise UnsupportedValue("value nested too deeply")
    kind = type(x)
    if x is None or kind in (bool, int, float, str):
        return
    if kind is list:
        for v in x:
            validate_plain(v, _depth + 1)
        return
    if kind is dict:
        for k, v in x.items():
            if type(k) is not str:
                raise UnsupportedValue("non-string key")
            validate_plain(v, _depth + 1)
        if "__ndarray__" in x:
            _array_from_tag(x)
        return
    raise UnsupportedValue(f"not a plain JSON value: {kind.__name__}")


def _array_from_tag(tag: dict) -> np.ndarray:
    data = tag["__ndarray__"]
    _check_numeric_nesting(data, 0)
    dtype = tag.get("dtype")
    if dtype is not None and (type(dtype) is not str or np.dtype(dtype).kind not in "biuf"):
        raise UnsupportedValue(f"unsupported array dtype {dtype!r}")
    try:
        array = np.array(data, dtype=np.dtype(dtype) if dtype else None)
    except (ValueError, TypeError, OverflowError) as error:
        raise UnsupportedValue(f"malformed array ({error})") from None
    if array.dtype.kind not in "biuf":
        raise UnsupportedValue("malformed array (ragged or non-numeric)")
    if "shape" in tag:
        shape = tag["shape"]
        if type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape):
            raise UnsupportedValue("malformed array shape")
        if array.size != math.prod(shape):
            raise UnsupportedValue("array data does not match its shape")
        array = array.reshape(shape)
    return array


def _check_numeric_nesting(data, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnsupportedValue("array nested too deeply")
    if type(data) is list:
        for v in data:
            _check_numeric_nesting(v, depth + 1)
    elif type(data) not in (bool, int, float):
        raise UnsupportedValue(f"array element of type {type(data).__name__}")


# --- numeric views -------------------------------------------------------------------------

def numeric(x) -> np.ndarray | None:
    """A float array for a plain number, tagged array, or (nested) list of those; else None."""
    if type(x) is bool:
        return np.array(float(x))
    if type(x) in (int, float):
        try:
            return np.array(float(x))
        except OverflowError:
            return np.array(math.copysign(math.inf, x))
    if type(x) is dict and "__ndarray__" in x:
        try:
            return _array_from_tag(x).astype(np.float64)
        except (UnsupportedValue, OverflowError):
            return None
    if type(x) is list:
        parts = [numeric(v) for v in x]
        if any(p is None for p in parts) or len({p.shape for p in parts}) > 1:
            return None
        if not parts:
            return np.zeros(0)
        return np.stack(parts)
    return None


def _is_numeric_expected(x) -> bool:
    return type(x) in (int, float) or (type(x) is dict and "__ndarray__" in x) or (
        type(x) is list and len(x) > 0 and numeric(x) is not None)


# --- summaries --------------------------------------------------------------------------------

def _fmt_number(v: float) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{float(v):.4g}"


def summarize_array(array: np.ndarray) -> str:
    array = np.asarray(array)
    if array.ndim == 0:
        return _fmt_number(array.item())
    body = np.array2string(array, separator=", ", threshold=12, edgeitems=2, max_line_width=10_000,
                           formatter={"all": _fmt_number})
    body = " ".join(body.split())
    shape = "x".join(str(s) for s in array.shape) or "scalar"
    text = f"array {shape} {body}"
    return text if len(text) <= 300 else text[:297] + "..."


def summarize(x, _depth: int = 0) -> str:
    """A short, deterministic text for an encoded or plain value (numbers to 4 significant digits)."""
    if _depth > 4:
        return "..."
    if x is None or type(x) is bool:
        return str(x)
    if type(x) in (int, float):
        return _fmt_number(x)
    if type(x) is str:
        return repr(x) if len(x) <= 60 else repr(x[:57]) + "..."
    if type(x) is dict:
        if "__ndarray__" in x:
            try:
                return summarize_array(_array_from_tag(x))
            except UnsupportedValue as error:
                return f"<{error}>"
        if "__rng__" in x:
            return f"default_rng({x['__rng__']})"
        if "__tuple__" in x:
            return "(" + ", ".join(summarize(v, _depth + 1) for v in x["__tuple__"]) + ")"
        items = list(x.items())
        text = ", ".join(f"{k!r}: {summarize(v, _depth + 1)}" for k, v in items[:6])
        return "{" + text + (", ..." if len(items) > 6 else "") + "}"
    if type(x) is list:
        array = numeric(x) if x and all(type(v) in (int, float) for v in x) else None
        if array is not None and len(x) > 6:
            return "list " + summarize_array(array)[6:]
        text = ", ".join(summarize(v, _depth + 1) for v in x[:6])
        return "[" + text + (", ..." if len(x) > 6 else "") + "]"
    return f"<{type(x).__name__}>"


def full_repr(x, _depth: int = 0) -> str:
    """An encoded or plain value written out in full, as Python code a learner can paste."""
    if _depth > MAX_DEPTH:
        return "..."
    if x is None or type(x) in (bool, str):
        return repr(x)
    if type(x) in (int, float):
        return repr(x)
    if type(x) is dict:
        if "__ndarray__" in x:
            try:
                array = _array_from_tag(x)
            except UnsupportedValue as error:
                return f"<{error}>"
            body = np.array2string(array, separator=", ", threshold=sys.maxsize, max_line_width=100,
                                   floatmode="unique")
            return f"np.array({body}, dtype=np.{array.dtype})"
        if "__rng__" in x:
            return f"np.random.default_rng({x['__rng__']})"
        if "__tuple__" in x:
            items = [full_repr(v, _depth + 1) for v in x["__tuple__"]]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "{" + ", ".join(f"{k!r}: {full_repr(v, _depth + 1)}" for k, v in x.items()) + "}"
    if type(x) is list:
        return "[" + ", ".join(full_repr(v, _depth + 1) for v in x) + "]"
    return f"<{type(x).__name__}>"


def summarize_call(function: str, args: list, kwargs: dict) -> str:
    parts = [summarize(a) for a in args] + [f"{k}={summarize(v)}" for k, v in kwargs.items()]
    text = f"{function}(" + ", ".join(parts) + ")"
    return text if len(text) <= 400 else text[:397] + "..."


# --- comparisons ------------------------------------------------------------------------------

# the plain number types (exact types: bool is not an int here): their name and numpy kind
_PLAIN_NUMBERS = {bool: ("bool", "b"), int: ("int", "i"), float: ("float", "f")}


def _dtype_name(x) -> str:
    """The dtype a plain value stands for, as a learner would name it."""
    if type(x) in _PLAIN_NUMBERS:
        return _PLAIN_NUMBERS[type(x)][0]
    if type(x) is dict and "__ndarray__" in x:
        return str(x.get("dtype") or "array")
    return type(x).__name__  # "list", "str", ...


def _kind(x) -> str | None:
    """'b', 'i' or 'f' for a plain number or tagged array; None for anything else."""
    if type(x) in _PLAIN_NUMBERS:
        return _PLAIN_NUMBERS[type(x)][1]
    if type(x) is dict and "__ndarray__" in x:
        dtype = x.get("dtype")
        if type(dtype) is not str:
            return None
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            return None
        return "i" if kind == "u" else kind
    return None


KIND_NAMES = {"b": "booleans", "i": "integers", "f": "floating-point numbers"}


def _precise(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v)) if abs(v) < 1e15 else repr(float(v))


def _close_reason(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, dtypes: str = "") -> str | None:
    if got.shape != expected.shape:
        return f"wrong shape: expected {_shape(expected)}, got {_shape(got)}"
    if not np.all(np.isfinite(got)):
        return "the result contains NaN or infinity"
    with np.errstate(all="ignore"):
        diff = np.abs(got - expected)
        bad = ~(diff <= atol + rtol * np.abs(expected))
    if not bad.any():
        return None
    allowed = "exact equality" if atol == 0 and rtol == 0 else f"{atol:g} + {rtol:g} * |expected|"
    tail = f"; allowed: {allowed}" + (f"; {dtypes}" if dtypes else "")
    if expected.ndim == 0:
        return (f"differs by {diff.item():.3g} (got {_precise(got.item())}, expected {_precise(expected.item())})"
                + tail)
    where = np.unravel_index(int(np.argmax(np.where(bad, diff, -1))), diff.shape)
    index = tuple(int(i) for i in where)
    return (f"{int(bad.sum())} of {bad.size} entries differ; largest difference {diff[where]:.3g} at index {index} "
            f"(got {_precise(got[where])}, expected {_precise(expected[where])})" + tail)


def _shape(a: np.ndarray) -> str:
    return "a number" if a.ndim == 0 else f"shape {tuple(a.shape)}"


def _compare_close(got, expected, rtol: float, atol: float, path: str = "", check_dtype: bool = False) -> str | None:
    """None when ``got`` matches ``expected`` (plain values), else the reason."""
    at = f" at {path}" if path else ""
    if _is_numeric_expected(expected) and not (check_dtype and type(expected) is list and expected
                                               and type(got) is list and len(got) == len(expected)):
        g, e = numeric(got), numeric(expected)
        if g is None:
            return f"expected numbers{at}, got {summarize(got)}"
        want, have = _kind(expected), _kind(got)
        if check_dtype and want is not None and have != want:
            return (f"wrong dtype{at}: expected {KIND_NAMES.get(want, want)} ({_dtype_name(expected)}), "
                    f"got {_dtype_name(got)}")
        have_name, want_name = _dtype_name(got), _dtype_name(expected)
        dtypes = (("" if not (g.ndim or e.ndim) else f"dtype {want_name}") if have_name == want_name
                  else f"got dtype {have_name}, expected {want_name}")
        reason = _close_reason(g, e, rtol, atol, dtypes)
        return None if reason is None else reason + at
    if expected is None or type(expected) in (bool, str):
        if type(got) is not type(expected) or got != expected:
            return f"expected {summarize(expected)}{at}, got {summarize(got)}"
        return None
    if type(expected) is dict and "__tuple__" in expected:
        expected = expected["__tuple__"]
    if type(expected) is list:
        if type(got) is not list or len(got) != len(expected):
            return f"expected a list or tuple of length {len(expected)}{at}, got {summarize(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            reason = _compare_close(g, e, rtol, atol, f"{path}[{i}]", check_dtype)
            if reason:
                return reason
        return None
    if type(expected) is dict:
        if type(got) is not dict or set(got) != set(expected):
            return f"expected a dict with keys {sorted(expected)}{at}, got {summarize(got)}"
        for k in expected:
            reason = _compare_close(got[k], expected[k], rtol, atol, f"{path}[{k!r}]", check_dtype)
            if reason:
                return reason
        return None
    return f"cannot compare with expected value {summarize(expected)}"


def compare(case, outcome: dict) -> tuple[bool, str]:
    """Judge one outcome (``{"value": plain}`` or ``{"error": {...}}``) against ``case``.

    Returns (passed, reason); the reason is empty on a pass. Trusted code: ``outcome`` must
    already have passed :func:`validate_outcome`.
    """
    if "error" in outcome:
        error = outcome["error"]
        if case.compare == "raises":
            if case.expected in error.get("mro", [error["type"]]):
                return True, ""
            return False, f"expected {case.expected} to be raised, got {error['type']}: {error['message']}"
        return False, f"raised {error['type']}: {error['message']}"
    got = outcome["value"]
    if case.compare == "raises":
        return False, f"expected {case.expected} to be raised, but it returned {summarize(got)}"
    if case.compare == "allclose":
        reason = _compare_close(got, case.expected, case.rtol, case.atol, check_dtype=case.check_dtype)
    elif case.compare == "equal":
        reason = _compare_close(got, case.expected, 0.0, 0.0, check_dtype=case.check_dtype)
    elif case.compare == "statistical":
        value, stderr = numeric(case.expected["value"]), numeric(case.expected["stderr"])
        z = float(case.expected.get("z", 4))
        g = numeric(got)
        if g is None:
            reason = f"expected numbers, got {summarize(got)}"
        elif g.shape != value.shape:
            reason = f"wrong shape: expected {_shape(value)}, got {_shape(g)}"
        elif not np.all(np.isfinite(g)):
            reason = "the result contains NaN or infinity"
        else:
            zscores = np.abs(g - value) / np.broadcast_to(stderr, value.shape)
            worst = float(np.max(zscores)) if zscores.size else 0.0
            reason = None if worst <= z else (
                f"{worst:.1f} standard errors from the exact value (allowed: {z:g}); "
                "is the estimator unbiased, and does it use the rng you were given?")
    else:  # pragma: no cover - cases.py rejects unknown modes
        reason = f"unknown comparison {case.compare!r}"
    if reason is None and outcome.get("changed"):
        reason = (f"the result is right, but the function changed its input {', '.join(outcome['changed'])} in place; "
                  "the caller's data must stay as it was (work on a copy)")
    return reason is None, reason or ""


def expected_summary(case) -> str:
    if case.compare == "statistical":
        return (f"{summarize(case.expected['value'])} within {case.expected.get('z', 4)} standard errors "
                f"({summarize(case.expected['stderr'])})")
    if case.compare == "raises":
        return f"raises {case.expected}"
    return summarize(case.expected)


def outcome_summary(outcome: dict) -> str:
    if "error" in outcome:
        return f"{outcome['error']['type']}: {outcome['error']['message']}"
    return summarize(outcome["value"])


def error_outcome(error: BaseException) -> dict:
    """The plain description of an exception raised by a learner's function."""
    kind = type(error)
    try:
        mro = [c.__name__ for c in kind.__mro__ if type(c.__name__) is str][:20]
    except Exception:  # pragma: no cover - hostile metaclasses
        mro = ["Exception"]
    try:
        message = str(error)
    except BaseException:
        message = "<unprintable>"
    if type(message) is not str:
        message = "<unprintable>"
    message = " ".join(message.split())
    return {"error": {"type": mro[0] if mro else "Exception", "mro": mro,
                      "message": message if len(message) <= 200 else message[:197] + "..."}}


def validate_outcome(outcome: Any) -> dict:
    """Trusted-side check of an outcome read from the child; raises UnsupportedValue if malformed."""
    if type(outcome) is not dict:
        raise UnsupportedValue("outcome is not an object")
    if set(outcome) in ({"value"}, {"value", "changed"}):
        validate_plain(outcome["value"])
        changed = outcome.get("changed", [])
        if type(changed) is not list or len(changed) > 10 or not all(type(c) is str for c in changed):
            raise UnsupportedValue("malformed list of changed inputs")
        checked = {"value": outcome["value"]}
        if changed:
            checked["changed"] = [c[:100] for c in changed]
        return checked
    if set(outcome) == {"error"} and type(outcome["error"]) is dict:
        error = outcome["error"]
        kind, message, mro = error.get("type"), error.get("message", ""), error.get("mro", [])
        if type(kind) is not str or type(message) is not str or type(mro) is not list or not all(
                type(m) is str for m in mro):
            raise UnsupportedValue("malformed error outcome")
        return {"error": {"type": kind[:100], "mro": [m[:100] for m in mro[:20]], "message": message[:300]}}
    raise UnsupportedValue("outcome must be {'value': ...} or {'error': ...}")
