"""The source papers' experiments, built on the library: each module runs one paper's
protocol on offline data (bundled with packages or generated, :mod:`hopdyn.datasets`) and returns
result dataclasses that the figures and the command line present. The library never imports
them.

- :mod:`~hopdyn.experiments.ood`: the RecLag paper's OOD benchmark on the digits demo;
- :mod:`~hopdyn.experiments.mha`: rank collapse of attention stacks, no-skip classifiers on digits;
- :mod:`~hopdyn.experiments.continual`: the tractable setting and digits (continual learning);
- :mod:`~hopdyn.experiments.adaptive`: the A-Hop retrieval tables, ablation, energy check, sweep.
"""
