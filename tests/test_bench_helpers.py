"""Helpers of ``hopdyn bench`` that decide its numbers (the timings themselves are not tested)."""
import time

import numpy as np
import torch

from hopdyn.bench import paired_ratio
from hopdyn.bench.core import _softmax_step_longdouble


def test_paired_ratio_is_the_ratio_within_pairs():
    ratio, base, other = paired_ratio(lambda: time.sleep(0.004), lambda: time.sleep(0.012), repeats=5)
    assert 2.0 < ratio < 4.0
    assert 0.004 <= base < other


def test_longdouble_reference_agrees_with_float64_and_is_finer():
    g = torch.Generator().manual_seed(0)
    xi = torch.randn(20, 8, dtype=torch.float64, generator=g)
    v = torch.randn(6, 8, dtype=torch.float64, generator=g)
    ref = _softmax_step_longdouble(v, xi, 50.0)
    assert ref.dtype == np.longdouble
    f64 = (torch.softmax(50.0 * (v @ xi.T), -1) @ xi).numpy()
    np.testing.assert_allclose(ref.astype(np.float64), f64, rtol=0, atol=1e-12)
