"""Every precise number in the prose of the book, exercise and solution notebooks is computed or cited.

A measured number typed into markdown goes stale the day the code or the data changes, while the
output above it is re-checked on every run. So the markdown of every notebook in ``book/``,
``exercises/`` and ``solutions/`` may show a number with three or more significant digits only if

* it is glued from the cell that computed it (myst-nb ``{glue:text}`name:.2f```; the role is
  removed before scanning), or
* it is a cited constant listed in :data:`CITED` below, with its reference.

What is scanned: markdown cells, including the bodies of directives (admonitions, exercises,
solutions) and inline or display math. What is not: code cells and outputs, fenced code blocks
(pseudocode, shell commands), inline code, roles (``{cite}``, ``{py:func}``, ``{glue...}``...),
link targets and URLs, directive options, HTML tags.

How digits are counted: thousands separators (``,``, ``{,}``, thin spaces) are dropped; leading
zeros never count; trailing zeros of an integer do not count (``100,000`` has one significant
digit, ``0.050`` has two, ``1.0`` has two). So round numbers of a configuration (``10,000``
episodes, ``0.05``) pass, and ``3.58``, ``0.589`` or ``226`` fail.

Three kinds of token are not numbers in this sense, each a documented rule, not a pass for a
particular page: a year (an integer 1900-2099 written without separator, as in citations);
a software version (a dotted number following a package name, or with two or more dots); an
identifier (``CartPole-v1``, ``ch02``, ``x2``, an arXiv number or a DOI).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("book", "exercises", "solutions") for p in (ROOT / folder).glob("*.ipynb"))

CITED: dict[str, str] = {
    # constants of the problems the course uses
    "475": "CartPole-v1 'solved' threshold: reward_threshold=475 in Gymnasium's CartPole-v1 registration "
           "(gymnasium/envs/__init__.py; Towers et al. 2024, Gymnasium)",
    "16.3": "Pendulum-v1 lowest per-step reward, -(pi^2 + 0.1*8^2 + 0.001*2^2) = -16.27, Gymnasium Pendulum-v1 documentation",
    "16.2736044": "the same Pendulum-v1 bound, as Gymnasium's documentation prints it",
    # names that are numbers
    "10-703": "the course number of the CMU lecture, 10-703 Deep Reinforcement Learning (Fragkiadaki & Kumar)",
    # published results and thresholds the book quotes with their citation
    "325": "Swimmer-v1 reward threshold of Mania, Guy & Recht 2018 (ARS), Table 1 (the chapters' Swimmer target)",
    "631167": "Dellacherie's hand-coded Tetris controller, 631,167 lines on average (Fahey 2003, as reported by "
              "Thiery & Scherrer 2009 and the CMU 10-703 lecture)",
}
"""Number (separators removed, as written) -> where it comes from. Keep it short: a measured number is glued."""

PACKAGES = r"(?:Python|python|torch|PyTorch|numpy|NumPy|gymnasium|Gymnasium|MuJoCo|mujoco|Sphinx|myst-nb|jupyter-book|Jupyter Book|numba|Ray|pycma|Chromium)"

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S)
_ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_URL = re.compile(r"(?:https?|file)://\S+")
_HTML = re.compile(r"<[^>\n]+>")
_OPTION = re.compile(r"^:[\w-]+:.*$", re.M)
_TEX_LABEL = re.compile(r"\\(?:tag|label|ref|eqref)\{[^}]*\}")
_IDENTIFIER = re.compile(r"arXiv:\s*\d{4}\.\d{4,5}(?:v\d+)?|\bdoi:\s*\S+|\b10\.\d{4,9}/\S+", re.I)
_VERSION = re.compile(PACKAGES + r"\s*(?:==|>=|<=|<|>|\s)\s*v?\d+(?:\.\d+)*|\b\d+\.\d+\.\d+(?:\.\d+)*\b")
_NUMBER = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:(?:,|\{,\}|\u2009|\u202f|\\,)\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])"
    r"|(?<![\w.])\.\d+(?![\w])"
)
_COURSE_CODE = re.compile(r"\b10-703\b")


def _strip_fences(text: str) -> str:
    """Drop code blocks; keep the prose inside MyST directives (```{admonition}, :::{note}, ...)."""
    def replace(match: re.Match) -> str:
        info = match.group("info").strip()
        if info.startswith("{"):
            return _strip_fences(match.group("body"))
        return "\n"
    return _FENCE.sub(replace, text)


def prose(markdown: str) -> str:
    """The part of a markdown cell a reader reads as text or math."""
    text = _strip_fences(markdown)
    text = _OPTION.sub("", text)
    text = _ROLE.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = _URL.sub(" ", text)
    text = _HTML.sub(" ", text)
    text = _TEX_LABEL.sub(" ", text)
    text = _IDENTIFIER.sub(" ", text)
    return text


def significant_digits(token: str) -> int:
    mantissa = re.split(r"[eE]", token)[0]
    digits = re.sub(r"\{,\}|\\,|[,\u2009\u202f]", "", mantissa)
    if "." in digits:
        whole, frac = digits.split(".", 1)
        all_digits = (whole + frac).lstrip("0")
        return len(all_digits)
    return len(digits.lstrip("0").rstrip("0")) or 1


def normalized(token: str) -> str:
    return re.sub(r"\{,\}|\\,|[,\u2009\u202f]", "", token)


def flagged_numbers(markdown: str) -> list[str]:
    """Numbers with >= 3 significant digits in ``markdown`` that are neither glued nor cited."""
    text = prose(markdown)
    for code in CITED:
        if "-" in code:
            text = text.replace(code, " ")
    text = _VERSION.sub(" ", text)
    out = []
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        value = normalized(token)
        if re.fullmatch(r"(19|20)\d\d", token):
            continue  # a year
        if significant_digits(token) < 3 or value in CITED:
            continue
        out.append(token)
    return out


def test_rules_on_examples():
    assert flagged_numbers("the estimate lies 1.26 standard errors away") == ["1.26"]
    assert flagged_numbers("over 100,000 samples with step 0.05 and 1.0") == []
    assert flagged_numbers("lies {glue:text}`ch01_mc_z:.2f` away; see {cite}`salimans2017` (2017)") == []
    assert flagged_numbers("solved at 475 on CartPole-v1, torch==2.13.0, Python 3.11") == []
    assert flagged_numbers("```text\n1: x ← 0.589\n```\nprose") == []
    assert flagged_numbers("```{admonition} Note\n:class: note\nthe KL is 0.589\n```") == ["0.589"]
    assert flagged_numbers("$-1{,}974$ and $12{,}930$ of 20,000") == ["1{,}974", "12{,}930"]
    assert flagged_numbers("226 parameters and `print(3.14159)`") == ["226"]
    assert flagged_numbers("see arXiv:1803.07055 and doi:10.1145/3205455.3205589") == []
    assert significant_digits("0.050") == 2 and significant_digits("100,000") == 1 and significant_digits("1.2e-5") == 2


def _markdown_cells(path: Path) -> list[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_no_typed_measured_numbers(path):
    problems = []
    for index, source in _markdown_cells(path):
        for token in flagged_numbers(source):
            problems.append(f"cell {index}: {token}")
    assert not problems, (
        f"{path.relative_to(ROOT)}: numbers with >= 3 significant digits typed into the prose "
        f"(glue them from the cell that computes them, or add a cited constant to CITED with its reference):\n"
        + "\n".join(problems)
    )
