"""Edge cases of the basin tools (issue 12): which memories survive RecLag, γ beyond a float,
the completeness of the fixed-point search, and the explorer page's escaping and wording."""
import json
import math
import re
import warnings

import pytest
import torch

import hopdyn as hd
from hopdyn import landscape as land
from hopdyn.analysis.attractors import MemorySwallowedWarning, memory_attractors, memory_fates
from hopdyn.analysis.fixed_points import fixed_points
from hopdyn.datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories
from hopdyn.plots.interactive import explorer_data, write_explorer

#: Memories 0 and 1 close together: at β = 4 the vanilla map takes xi[0] to memory 1's fixed
#: point (gate open there, G = 0.21 at log γ = 11) while xi[0] itself lies in B0 (G = −0.21).
CLOSE = torch.tensor([[1.541, -0.2934], [1.662, -0.0420], [-1.0845, -1.3986]], dtype=torch.float64)


def test_a_memory_without_its_own_attractor_does_not_survive():
    net = hd.MHN(CLOSE, memory=hd.RecLag(4.0, log_gamma=11.0))
    with pytest.warns(MemorySwallowedWarning, match="swallows 1 of 3 memories \\(0\\)"):
        f = memory_fates(net)
    # the RecLag map itself sends xi[0] to 0, and keeps memories 1 and 2
    ends = hd.iterate(net, CLOSE, steps=200, keep="last", progress=False).final
    assert (ends[0] == 0).all() and (ends[1:] != 0).any(-1).all()
    assert f.survives.tolist() == [False, True, True]
    assert f.swallowed.tolist() == [True, False, False] and f.n_swallowed == 1 and f.n_merged == 0
    assert f.has_own_fixed_point.tolist() == [False, True, True]
    # the vanilla end from xi[0] is memory 1's fixed point, with the gate open there
    torch.testing.assert_close(f.fixed_points[0], f.fixed_points[1])
    assert float(f.G[0]) == pytest.approx(0.2137, abs=1e-3)
    assert float(f.G_memory[0]) == pytest.approx(-0.2133, abs=1e-3) and bool((f.G_memory[1:] > 0).all())
    torch.testing.assert_close(f.reclag_ends, ends)
    # the basin maps name the same memories
    assert memory_attractors(net).names == ["origin", "memory 1", "memory 2"]


def test_fates_agree_with_the_reclag_map_and_the_gamma_limit():
    """For γ > N_H: survives ⇔ the RecLag iteration from xi[mu] keeps mu ⇔ own fixed point and
    log γ ≤ log_gamma_limit[mu]."""
    g = torch.Generator().manual_seed(3)
    for trial in range(12):
        xi = torch.randn(4, 3, generator=g, dtype=torch.float64)
        xi[1] = xi[0] + 0.4 * torch.randn(3, generator=g, dtype=torch.float64)
        beta = [1.0, 2.0, 4.0][trial % 3]
        for log_gamma in (2.0, 4.0, 6.0, 9.0):
            net = hd.MHN(xi, memory=hd.RecLag(beta, log_gamma=log_gamma))
            f = memory_fates(net, warn=False)
            ends = hd.iterate(net, xi, steps=5000, tol=1e-12, keep="last", progress=False).final
            kept = (ends.norm(dim=-1) > 0) & (torch.cdist(ends, xi).argmin(-1) == torch.arange(4))
            assert f.survives.tolist() == kept.tolist()
            assert f.survives.tolist() == (f.has_own_fixed_point & (log_gamma <= f.log_gamma_limit)).tolist()
            assert not bool((f.survives & f.swallowed).any())


def test_log_gamma_beyond_a_float():
    """RecLag(β, log_gamma=800) has γ = inf: memory_fates works with log γ (it crashed)."""
    xi = 13 * torch.nn.functional.normalize(
        torch.randn(6, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64), dim=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemorySwallowedWarning)
        kept = memory_fates(hd.MHN(xi, memory=hd.RecLag(5.0, log_gamma=800.0)))
    assert math.isinf(kept.gamma) and kept.log_gamma == 800.0
    assert bool(kept.survives.all()) and kept.n_swallowed == 0
    assert bool((kept.log_gamma_limit > 800).all()) and bool(torch.isfinite(kept.G).all())
    with pytest.warns(MemorySwallowedWarning, match="log γ = 900.*keep log γ ≤ 8"):
        lost = memory_fates(hd.MHN(xi, memory=hd.RecLag(5.0, log_gamma=900.0)))
    assert lost.n_swallowed == 6


def test_vanilla_network_has_nothing_to_swallow():
    with pytest.raises(ValueError, match="no gate.*nothing is swallowed"):
        memory_fates(hd.MHN(planar_memories(), memory=hd.LogSumExp(PLANAR_BETA)))


#: A saddle of the planar example (β = 4) between memories 0 and 1 that the old default seeds missed.
SADDLE = torch.tensor([0.71244, 1.20326], dtype=torch.float64)


@pytest.mark.parametrize("memory", [hd.LogSumExp(PLANAR_BETA), hd.RecLag(PLANAR_BETA, PLANAR_GAMMA)])
def test_default_seeds_find_every_fixed_point_of_the_planar_example(memory):
    net = hd.MHN(planar_memories(), memory=memory)
    fp = fixed_points(net)
    d = (fp.points - SADDLE).norm(dim=-1)
    assert float(d.min()) < 1e-4 and fp.kind_map[int(d.argmin())] == "saddle"
    # a dense grid of seeds finds nothing more
    xs = torch.linspace(-3.5, 3.5, 71, dtype=torch.float64)
    dense = fixed_points(net, torch.stack(torch.meshgrid(xs, xs, indexing="xy"), -1).reshape(-1, 2))
    assert len(dense.names) == len(fp.names) == 11
    assert float(torch.cdist(dense.points, fp.points).min(-1).values.max()) < 1e-6
    assert fp.n_seeds > 500 and 0 < fp.n_converged <= fp.n_seeds
    assert "can be missed" in fp.note and str(fp.n_seeds) in fp.note
    assert dense.n_seeds == 71 * 71 and "given seeds" in dense.note


EVIL = "</script><script>alert(1)</script>"


def test_explorer_escapes_title_and_set_names(tmp_path):
    sweep = land.landscape_sweep({EVIL: planar_memories(), "a & <b>": CLOSE}, betas=[4.0], gammas=[None, 1e3],
                                 n=9, n_starts=2, steps=5)
    page = write_explorer(sweep, tmp_path / "index.html", title=EVIL + " __DATA__")
    text = page.read_text()
    assert EVIL not in text and "<b>" not in text and "alert(1)</script>" not in text
    assert text.count("</script>") == text.count("<script")  # no script element was opened by the data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; __DATA__" in text  # the title, as text
    data = json.loads(re.search(r"const DATA = (.*);\n", text).group(1))
    assert [s["name"] for s in data["sets"]] == [EVIL, "a & <b>"]  # the names survive as data


def test_explorer_memory_fates_follow_memory_fates():
    sweep = land.landscape_sweep({"close": CLOSE, "planar": planar_memories()}, betas=[1.0, 4.0],
                                 gammas=[None, math.exp(11.0)], n=9, n_starts=2, steps=5)
    data = explorer_data(sweep)
    for key, cell in data["cells"].items():
        si, bi, gi = map(int, key.split("_"))
        if sweep.gammas[gi] is None:
            assert cell["fates"] == {"gated": False}  # a vanilla network swallows nothing
            continue
        f = memory_fates(hd.MHN(sweep.memories[si], memory=hd.RecLag(sweep.betas[bi], sweep.gammas[gi])), warn=False)
        assert cell["fates"]["swallowed"] == f.swallowed.nonzero().flatten().tolist()
        assert cell["fates"]["merged"] == f.merged.nonzero().flatten().tolist()
        survivors = f.survives.nonzero().flatten().tolist()
        assert [m for m in cell["memory"] if m >= 0] == survivors  # ids, not parsed names
        assert [k for k, m in zip(cell["kinds"], cell["memory"]) if m >= 0] == ["memory"] * len(survivors)
    assert data["cells"]["0_1_1"]["fates"]["swallowed"] == [0]
    # the page's wording: only a gated cell can speak of swallowing
    from hopdyn.plots.interactive import _EXPLORER

    js = _EXPLORER[_EXPLORER.index("let fate"):_EXPLORER.index('el("info").textContent')]
    vanilla_branch = js[js.index("} else {"):]
    assert "swallow" in js and "swallow" not in vanilla_branch
