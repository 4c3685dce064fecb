"""What pyproject.toml cannot say: the stored results ship inside the package.

``results/*.json`` (the data the chapters plot) is installed as ``pgnotes/_results/``, where
:mod:`pgnotes.results` finds it when a chapter runs outside the clone (Colab, a wheel).
Checkpoints (``results/checkpoints/``) stay in the clone: a notebook never reads them.
"""

from setuptools import find_namespace_packages, setup

# namespace packages too: data folders such as pgnotes/grading/cases hold JSON, not __init__.py
packages = find_namespace_packages(include=["pgnotes", "pgnotes.*"], exclude=["*.__pycache__"])

setup(
    packages=packages + ["pgnotes._results"],
    package_dir={"pgnotes._results": "results"},
    # JSON data of any package (grading cases, ...) and the results files; not results/checkpoints/
    package_data={"": ["py.typed", "*.json"]},
)
