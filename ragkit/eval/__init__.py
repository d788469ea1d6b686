"""Evaluation: datasets, metrics and the benchmark runs behind ``ragkit eval``."""
