"""Variant distributions: each kind's parameterisation checked on samples."""
import pytest
import torch

from hopdyn.adaptive import VariantDistribution


def memories(n=16, d=32, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_shapes_sources_and_seeds():
    xi = memories()
    x, k = VariantDistribution("mixed", 0.4).sample(xi, 3, seed=5)
    assert x.shape == (48, 32) and x.dtype == torch.float64 and k.dtype == torch.int64
    assert torch.equal(k, torch.arange(16).repeat_interleave(3))
    x2, _ = VariantDistribution("mixed", 0.4).sample(xi, 3, seed=5)
    x3, _ = VariantDistribution("mixed", 0.4).sample(xi, 3, seed=6)
    assert torch.equal(x, x2) and not torch.equal(x, x3)


@pytest.mark.parametrize("kind", ["noisy", "masked", "biased", "mixed"])
def test_difficulty_zero_returns_the_memories(kind):
    xi = memories()
    x, k = VariantDistribution(kind, 0.0).sample(xi, 2)
    torch.testing.assert_close(x, xi[k])


def test_noisy_has_the_stated_standard_deviation():
    xi = memories()
    x, k = VariantDistribution("noisy", 0.4, noise_scale=3.0).sample(xi, 400, seed=1)
    resid = x - xi[k]
    expected = 0.4 * 3.0 * float(xi.std())
    assert abs(float(resid.std()) / expected - 1) < 0.01  # 204,800 draws: std error ~0.2 %
    assert abs(float(resid.mean())) < 0.01 * expected


def test_masked_sets_exactly_round_t_d_entries_to_the_fill():
    xi = memories() + 10.0  # no memory entry equals the fill by chance
    x, k = VariantDistribution("masked", 0.3, mask_fill=-1.0).sample(xi, 50, seed=2)
    masked = x == -1.0
    assert torch.all(masked.sum(-1) == round(0.3 * 32))
    torch.testing.assert_close(x[~masked], xi[k][~masked])
    # every dimension gets masked about equally often (uniform choice)
    freq = masked.double().mean(0)
    assert float(freq.min()) > 0.2 and float(freq.max()) < 0.4
    x, _ = VariantDistribution("masked", 0.5, mask_scale=4.0).sample(xi, 2)
    assert torch.all(x == 0.0)  # the masked fraction is capped at 1


def test_biased_shifts_every_dimension_by_one_random_amount():
    xi = memories()
    x, k = VariantDistribution("biased", 0.5, bias_scale=6.0).sample(xi, 500, seed=3)
    shift = x - xi[k]
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift))
    expected = 0.5 * 6.0 * float(xi.std())
    assert abs(float(shift[:, 0].std()) / expected - 1) < 0.05  # 8,000 draws


def test_mixed_keeps_masked_entries_exact():
    xi = memories()
    x, _ = VariantDistribution("mixed", 0.5).sample(xi, 10, seed=4)
    assert torch.all((x == 0.0).sum(-1) == 16)


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="kind"):
        VariantDistribution("rotated")
    with pytest.raises(ValueError, match="difficulty"):
        VariantDistribution("noisy", 1.5)
    with pytest.raises(ValueError, match="noise_scale"):
        VariantDistribution("noisy", 0.5, noise_scale=0.0)
    with pytest.raises(ValueError, match="n_per_memory"):
        VariantDistribution().sample(memories(), 0)
    with pytest.raises(ValueError, match="xi"):
        VariantDistribution().sample(torch.ones(3), 2)
