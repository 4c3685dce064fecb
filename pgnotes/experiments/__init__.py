"""Long experiments of the course, each a command that writes ``results/*.json``: ``python -m pgnotes.experiments.NAME``."""
