"""Seeded generators, the samplers of initial states, the Wilson interval and the paired bootstrap
(hopdyn.stats)."""
import math

import numpy as np
import pytest
import scipy.stats
import torch
from scipy.stats import binomtest

import hopdyn as hd
from hopdyn.stats import generator, paired_bootstrap, sample, sample_ball, sample_box, sample_gaussian, wilson_interval


def test_wilson_interval_against_scipy():
    for k, n in [(0, 10), (3, 10), (10, 10), (517, 2000)]:
        ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_generator_streams_are_seeded_and_distinct_from_manual_seed():
    a = torch.rand(5, generator=generator(0, "x"))
    assert torch.equal(a, torch.rand(5, generator=generator(0, "x")))
    assert not torch.equal(a, torch.rand(5, generator=generator(0, "y")))
    assert not torch.equal(a, torch.rand(5, generator=generator(1, "x")))
    assert not torch.equal(a, torch.rand(5, generator=torch.Generator().manual_seed(0)))


def test_samplers_land_where_they_say():
    g = generator(0, "test")
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    box = sample_box(4000, 3, 0.5, center=c, generator=g)
    assert box.shape == (4000, 3) and box.dtype == torch.float64
    assert bool(((box - c).abs() <= 0.5).all()) and float((box - c).abs().max()) > 0.49
    ball = sample_ball(4000, 3, 2.0, center=c, generator=g)
    r = (ball - c).norm(dim=-1)
    assert bool((r <= 2.0).all())
    # uniform in the ball: P(r < R/2) = 1/8 in 3-D
    assert float((r < 1.0).double().mean()) == pytest.approx(1 / 8, abs=0.02)
    gauss = sample_gaussian(20000, 2, 3.0, generator=g, dtype=torch.float32)
    assert gauss.dtype == torch.float32 and float(gauss.std()) == pytest.approx(3.0, rel=0.03)
    # the dispatcher draws the same numbers as the sampler it names
    torch.testing.assert_close(sample("box", 7, 3, 0.5, center=c, generator=generator(2, "s")),
                               sample_box(7, 3, 0.5, center=c, generator=generator(2, "s")))


def test_samplers_never_touch_the_global_stream():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    sample("ball", 10, 2, 1.0, generator=generator(0, "g"))
    hd.basins.basin_fractions(hd.MHN(torch.eye(2, dtype=torch.float64), memory=hd.RecLag(2.0, 5.0)), "box", 50,
                              progress=False)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sample("cube", 3, 2, 1.0), "sampler"),
        (lambda: sample("box", 0, 2, 1.0), "n must"),
        (lambda: sample("box", 3, 0, 1.0), "dim must"),
        (lambda: sample("ball", 3, 2, -1.0), "scale"),
        (lambda: sample("gaussian", 3, 2, math.nan), "scale"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_interval_check_names_the_argument():
    from hopdyn._validate import interval

    assert interval(0, 1, "x") == (0.0, 1.0)
    for lo, hi in [(1, 0), (0, math.inf), ("a", 1), (2, 2)]:
        with pytest.raises(ValueError, match="x must"):
            interval(lo, hi, "x")


def test_old_names_stay_importable():
    assert hd.basins.wilson_interval is wilson_interval
    assert hd.basins.generator is generator and hd.basins.sample_ball is sample_ball


def test_paired_bootstrap_agrees_with_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 1.0, 300)
    b = a + rng.normal(0.2, 0.3, 300)  # strongly paired
    ia, _, idiff = paired_bootstrap(a, b, n_boot=4000, generator=torch.Generator().manual_seed(0))
    ref = scipy.stats.bootstrap((a, b), lambda x, y, axis=-1: (x - y).mean(axis), paired=True,
                                method="percentile", n_resamples=4000, random_state=1).confidence_interval
    width = ref.high - ref.low
    assert idiff.low == pytest.approx(ref.low, abs=0.1 * width)
    assert idiff.high == pytest.approx(ref.high, abs=0.1 * width)
    assert idiff.mean == pytest.approx((a - b).mean(), rel=1e-12)
    # pairing matters: the difference's interval is far narrower than the marginal ones
    assert idiff.high - idiff.low < 0.4 * (ia.high - ia.low)
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap(a, b, level=1.5)
    with pytest.raises(ValueError, match="equal length"):
        paired_bootstrap(a, b[:-1])
