"""Benchmarks of this project against the tools a user would pick instead, in one run.

`python -m bench` (or `doit bench`, `make bench`) runs every benchmark and prints one table of
ratios ours/peer: conversion time and peak memory against `ovc` (`conversion`), inference of
our IR against ovc's (`inference`), no-op and incremental `doit convert` (`zoo`), download
throughput against curl (`download`) and the cold-build speed-up of `doit -n 2` (`zoo`).
Results go to `bench/results.json` and `bench/results.md`.
"""
