"""The source papers' experiments, built on the library: each module runs one paper's
protocol on offline data (bundled with packages or generated) and returns result dataclasses
that the figures and the command line present."""
