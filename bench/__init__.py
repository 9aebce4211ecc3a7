"""Benchmarks: `make bench` (python -m bench) prints the figures and saves them under bench/results/."""
