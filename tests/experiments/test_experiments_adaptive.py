"""The A-Hop paper's experiments (hopdyn.experiments.adaptive) and the ``hopdyn ahop`` command."""
import json

import numpy as np
import pytest

from hopdyn.cli import main
from hopdyn.experiments.adaptive import Setting, _summarise, run_setting


def test_footprint_beats_fixed_similarities_on_masked_and_biased_queries():
    """The paper's central claim, small: under masks and a shared random shift, the sorted
    footprint retrieves the source far more often than the best fixed-form similarity."""
    setting = Setting("synthetic", 0.4, n_memories=16, n_features=16)
    runs = run_setting(setting, ("A-Hop", "D-Hop", "M-Hop"), seeds=(0,), epochs=20, n_train=10, n_test=10,
                       variant_options={"noise_scale": 0.5}, progress=False)
    acc = {r.model: r.accuracy for r in runs}
    assert acc["A-Hop"] > max(acc["D-Hop"], acc["M-Hop"]) + 0.15, acc


def test_table_summary_and_markdown():
    runs = run_setting(Setting("synthetic", 0.4, n_memories=8, n_features=8), ("A-Hop", "U-Hop"), seeds=(0, 1),
                       epochs=2, n_train=2, n_test=3, progress=False)
    assert len(runs) == 4 and all(0 <= r.accuracy <= 1 and 0 <= r.eps_any <= 1 for r in runs)
    table = _summarise(runs)
    mean, std, n = table.summary["A-Hop"]["synthetic@0.4"]
    accs = [r.accuracy for r in runs if r.model == "A-Hop"]
    assert n == 2 and mean == pytest.approx(np.mean(accs)) and std == pytest.approx(np.std(accs, ddof=1))
    md = table.markdown()
    assert "paper 0.724" in md and "0.521 (U2-Hop)" in md
    with pytest.raises(ValueError, match="model"):
        run_setting(Setting(), ("Z-Hop",), seeds=(0,))
    with pytest.raises(ValueError, match="dataset"):
        Setting("mnist")


def test_cli_ahop_quick_writes_json(tmp_path, capsys):
    out = tmp_path / "ahop.json"
    rc = main(["ahop", "--quick", "--no-ablation", "--no-energy", "--n-train", "1", "--n-test", "2", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "A-Hop" in text and "paper 0.724" in text
    report = json.loads(out.read_text())
    assert {r["model"] for r in report["table"]["runs"]} == {"A-Hop", "M-Hop", "U-Hop", "D-Hop"}


def test_cli_ahop_bad_input_exits_2(capsys):
    assert main(["ahop", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err
