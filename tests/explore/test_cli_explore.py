"""``hopdyn explore`` on the command line: bad input is one line and exit 2; good input starts."""
import numpy as np
import pytest
import torch

from hopdyn.cli import main


def run(capsys, *argv):
    code = main(["explore", "--check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def bad_files(tmp_path):
    g = np.random.default_rng(0)
    nan = g.standard_normal((4, 3))
    nan[1, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "cube.npy", g.standard_normal((2, 3, 4)))
    np.save(tmp_path / "column.npy", g.standard_normal((5, 1)))
    np.save(tmp_path / "one.npy", g.standard_normal((1, 6)))
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    (tmp_path / "xi.txt").write_text("1 2\n3 4\n")
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    torch.save({"xi": torch.ones(2, 2)}, tmp_path / "dict.pt")
    return {
        "missing.npy": "no such file", "nan.npy": "NaN", "cube.npy": "shape (N_H, N_V)", "column.npy": "N_V must be >= 2",
        "one.npy": "at least 2 memories", "two.npz": "name the memories 'xi'", "xi.txt": ".npy, .npz or .pt",
        "broken.npy": "not a readable", "dict.pt": "single tensor",
    }


def test_bad_xi_files_exit_2_with_one_line(tmp_path, capsys):
    for name, msg in bad_files(tmp_path).items():
        code, out, err = run(capsys, "--xi", str(tmp_path / name))
        assert code == 2, (name, out, err)
        assert err.count("\n") == 1 and err.startswith("hopdyn explore: error:") and msg in err, (name, err)


@pytest.mark.parametrize("argv, msg", [
    (["--gamma", "abc"], "--gamma"), (["--beta", "-1"], "--beta"), (["--plane", "diagonal"], "--plane"),
    (["--n", "3"], "n (grid points"), (["--port", "70000"], "--port"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, msg):
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and msg in err, err


def test_user_network_in_one_command(tmp_path, capsys):
    g = np.random.default_rng(1)
    np.save(tmp_path / "xi.npy", g.standard_normal((20, 64)))
    np.savez(tmp_path / "xi.npz", xi=g.standard_normal((20, 64)))
    torch.save(torch.randn(6, 3, dtype=torch.float64), tmp_path / "xi.pt")
    for name, extra in (("xi.npy", ["--n", "40"]), ("xi.npz", ["--plane", "pca", "--n", "30", "--gamma", "vanilla"]),
                        ("xi.pt", ["--n", "30", "--lagrangian", "smooth"])):
        code, out, err = run(capsys, "--xi", str(tmp_path / name), *extra)
        assert code == 0, err
        assert "first view" in out and "N_V = " in out


def test_builtin_network_without_arguments(capsys):
    code, out, _ = run(capsys, "--n", "30")
    assert code == 0 and "built-in planar network: 5 memories, N_V = 2" in out
