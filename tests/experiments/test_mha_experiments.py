"""The MHA experiments at toy sizes (the real runs are in the report), their plots and CLI."""
import json

import numpy as np
import pytest
import torch

import hopdyn as hd
from hopdyn import collapse as C
from hopdyn.cli import main
from hopdyn.experiments.mha import collapse_vs_depth, digits_accuracy


def test_collapse_sweep_matches_a_direct_run():
    r = collapse_vs_depth((0.0, 0.5), depth=3, n_tokens=5, d_model=8, n_heads=2, n_seeds=2, batch=3, progress=False)
    assert r.metrics["cosine"].shape == (2, 4, 6) and list(r.depths) == [0, 1, 2, 3]
    # redo seed 1, α' = 0.5 by hand
    torch.manual_seed(1)
    stack = hd.HopfieldAttentionStack.build(3, 8, 2, alpha_h=0.5, dtype=torch.float64)
    x0 = torch.randn(3, 5, 8, dtype=torch.float64)
    with torch.no_grad():
        xs, _ = stack(x0, return_all=True)
    for name in ("relative_residual", "cosine_gap"):
        expected = getattr(C, name)(torch.stack([x0, *xs])).numpy()
        np.testing.assert_allclose(r.metrics[name][1, :, 3:], expected, rtol=1e-12)
    # depth 0 (the input) and depth 1 (no state carried yet) do not depend on α'
    np.testing.assert_array_equal(r.metrics["residual"][0, :2], r.metrics["residual"][1, :2])
    assert r.quantiles("cosine").shape == (3, 2, 4)
    assert len(r.layers_to("relative_residual", 1e-300)) == 2


def test_digits_experiment_smoke():
    r = digits_accuracy(depths=(1, 2), alphas_h=(0.0, 0.5), seeds=(0,), epochs=1, d_model=8, n_heads=2, d_ff=8,
                        batch_size=256, progress=False)
    assert r.accuracy.shape == r.final_cosine.shape == (2, 2, 1)
    assert ((0 <= r.accuracy) & (r.accuracy <= 1)).all()
    assert r.accuracy[0, 0, 0] == r.accuracy[1, 0, 0]  # one layer: α' has nothing to carry
    assert len(r.table_rows()) == 2 and len(r.table_headers()) == len(r.table_rows()[0])
    with pytest.raises(ValueError, match="alphas_h"):
        digits_accuracy(alphas_h=(1.5,))


def test_accuracy_plot_draws(tmp_path):  # the collapse plot is drawn by test_cli_collapse
    from hopdyn.figures import save
    from hopdyn.plots.mha import plot_accuracy_vs_depth

    fig = plot_accuracy_vs_depth((1, 2, 3), (0.0, 0.5), np.full((2, 3, 2), 0.5), chance=0.1)
    assert save(fig, tmp_path, "a", formats=("png",))[0].stat().st_size > 0


def test_cli_collapse(tmp_path, capsys):
    out = tmp_path / "c.json"
    code = main(["mha", "collapse", "--depth", "2", "--seeds", "1", "--tokens", "4", "--width", "8", "--heads", "2",
                 "--alphas", "0,0.5", "--json", str(out), "--plot", str(tmp_path / "c.png")])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["alphas_h"] == [0.0, 0.5] and len(data["median"]["cosine"][0]) == 3
    assert (tmp_path / "c.png").stat().st_size > 0
    assert "alpha'=0.5" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["mha", "collapse", "--alphas", "0,1"], ["mha", "collapse", "--depth", "0"], ["mha", "digits", "--seeds", "0"],
    ["mha", "collapse", "--plot", "x.svg", "--depth", "1"]])
def test_cli_bad_input(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hopdyn mha: error:") and len(err.strip().splitlines()) == 1


def test_experiments_leave_the_callers_random_stream_alone():
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    kw = dict(depth=2, n_tokens=4, d_model=8, n_heads=2, n_seeds=1, batch=2, progress=False)
    a = collapse_vs_depth((0.0,), **kw)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = collapse_vs_depth((0.0,), **kw)
    np.testing.assert_array_equal(a.metrics["cosine"], b.metrics["cosine"])  # seeded, not stream-dependent
    r = digits_accuracy(depths=(1,), alphas_h=(0.0,), seeds=(0,), epochs=1, d_model=8, n_heads=2, d_ff=8,
                        batch_size=512, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(99)  # another caller state: same result
    r2 = digits_accuracy(depths=(1,), alphas_h=(0.0,), seeds=(0,), epochs=1, d_model=8, n_heads=2, d_ff=8,
                         batch_size=512, progress=False)
    np.testing.assert_array_equal(r.accuracy, r2.accuracy)


# -- issue 17: the ViT / char-GPT comparison, the collapse fit, the CLI ------------------------------
from hopdyn.experiments.mha import (
    CharGPT,
    CollapseSweep,
    PatchViT,
    char_gpt,
    collapse_fit,
    collapse_slowing,
    stdlib_corpus,
    vit_digits,
)

TINY = dict(depth=2, d_model=8, n_heads=2, device="cpu", progress=False)


def test_patch_tokens_against_a_loop():
    model = PatchViT(8, 2, 10, 1, 8, 2, 0.0, None)
    images = torch.rand(3, 8, 8)
    with torch.no_grad():
        got = model.tokens(images) - model.pos
        patches = torch.stack([images[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(3, 4)
                               for i in range(4) for j in range(4)], 1)
        torch.testing.assert_close(got, model.embed(patches))


def test_char_gpt_is_causal_with_carried_scores():
    torch.manual_seed(0)
    model = CharGPT(128, 12, 3, 16, 2, alpha_h=0.7, alpha=0.5).eval()
    ids = torch.randint(0, 128, (2, 12))
    other = ids.clone()
    other[:, 7:] = torch.randint(0, 128, (2, 5))
    with torch.no_grad():
        a, b = model(ids), model(other)
    torch.testing.assert_close(a[:, :7], b[:, :7], rtol=0, atol=1e-5)
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-3


def test_stdlib_corpus_is_deterministic():
    a, desc = stdlib_corpus(5000)
    b, _ = stdlib_corpus(5000)
    assert torch.equal(a, b) and a.shape == (5000,) and int(a.max()) < 128 and "sha256" in desc
    with pytest.raises(ValueError, match="n_chars"):
        stdlib_corpus(10)


def test_vit_comparison_tiny():
    r = vit_digits((0.0, 0.5), (None, 0.5), seeds=(0, 1, 2), epochs=1, batch_size=512, **TINY)
    assert r.score.shape == (2, 2, 3) and r.entropy.shape == r.effective_rank.shape == r.cosine.shape == (2, 2, 3, 2)
    assert ((0 <= r.score) & (r.score <= 1)).all() and (r.entropy <= np.log(16) + 1e-6).all()
    comps = r.comparisons()
    assert [(c["alpha"], c["alpha_h"]) for c in comps] == [(None, 0.5), (0.5, 0.5)]
    for c in comps:
        d = r.score[[None, 0.5].index(c["alpha"]), 1] - r.score[[None, 0.5].index(c["alpha"]), 0]
        assert c["diff"] == pytest.approx(d.mean()) and c["low"] <= c["diff"] <= c["high"]
        assert c["verdict"].startswith(("MHA better", "MHA worse", "no significant"))
        assert c["rank_low"] <= c["rank_diff"] <= c["rank_high"]
    assert len(r.verdict_lines()) == 4 and len(r.table()[1]) == 4
    with pytest.raises(ValueError, match="residual_alphas"):
        vit_digits(residual_alphas=(1.0,), **TINY)


def test_char_gpt_tiny():
    r = char_gpt((0.0, 0.3), seeds=(0,), n_chars=5000, context=16, steps=2, batch_size=4, n_eval=8, **TINY)
    assert r.score.shape == (1, 2, 1) and (r.score > 0).all() and not r.higher_is_better
    assert "one" not in r.comparisons()[0]["verdict"] and "fewer than 3 seeds" in r.comparisons()[0]["verdict"]


def synthetic_sweep(series):
    """A sweep whose relative residual follows given curves (one row per α', same for every sample)."""
    r = np.repeat(np.asarray(series, dtype=float)[:, :, None], 4, axis=-1)
    r = r * np.exp(0.01 * np.random.default_rng(0).normal(size=r.shape))  # samples differ a little
    return CollapseSweep((0.0, 0.5), np.arange(r.shape[1]), {"relative_residual": r})


def test_collapse_fit_recovers_known_orders():
    L = np.arange(8)
    doubly = np.exp(-0.05 * 3.0**L)  # order 3 (Dong et al.'s form); above 1e-12 for L <= 5
    expo = 0.5**L  # order 1, factor 0.5
    fit = collapse_fit(synthetic_sweep([doubly, expo]))
    assert fit.order[0][0] == pytest.approx(3.0, rel=0.05) and fit.order[1][0] == pytest.approx(1.0, abs=0.05)
    assert fit.rate[1][0] == pytest.approx(0.5, rel=0.02) and fit.n_used == [4, 4]
    assert "doubly exponential" in fit.lines()[0] and "exponential (order ~ 1)" in fit.lines()[1]
    slow = collapse_slowing(synthetic_sweep([doubly, expo]))
    assert slow[0]["depth"] == 6 and slow[0]["verdict"] == "slower collapse (claim holds)"
    assert slow[0]["diff_log10"] == pytest.approx(np.log10(expo[6] / doubly[6]), rel=0.01)


def test_cli_vit_gpt_and_causal_collapse(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["mha", "vit", "--seeds", "1", "--epochs", "1", "--depth", "1", "--width", "8", "--heads", "2",
                 "--patch", "4", "--out", str(out), "--json", str(tmp_path / "v.json")]) == 0
    text = capsys.readouterr().out
    assert "verdicts" in text and "fewer than 3 seeds" in text
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["settings"]["tokens"] == 4 and len(data["comparisons"]) == 1
    assert (out / "mha_vit.png").stat().st_size > 0
    assert main(["mha", "gpt", "--seeds", "1", "--steps", "1", "--depth", "1", "--width", "8", "--heads", "2",
                 "--chars", "4000", "--context", "8", "--residual", "0.5"]) == 0
    assert "bits/char" in capsys.readouterr().out
    assert main(["mha", "collapse", "--causal", "--depth", "3", "--seeds", "1", "--tokens", "4", "--width", "8",
                 "--heads", "2", "--alphas", "0,0.5", "--out", str(out)]) == 0
    assert "order q" in capsys.readouterr().out and (out / "mha_collapse_causal.png").exists()


@pytest.mark.parametrize("argv", [["mha", "vit", "--device", "nonsense"], ["mha", "vit", "--seeds", "0"],
                                  ["mha", "gpt", "--residual", "std,1.5", "--steps", "1"]])
def test_cli_training_bad_input(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hopdyn mha: error:") and len(err.strip().splitlines()) == 1
