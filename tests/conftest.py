import logging
import math
import os

# subprocesses (CLI tests, notebook kernels) inherit this: one OpenMP thread per process
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# one torch thread per test process: the tests' tensors are small, and with pytest -n 2 the
# workers' OpenMP pools would oversubscribe the 2 cores (small ops measured 10-300x slower)
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, whatever ran before it on this worker
    (tests that draw without their own generator stay reproducible under pytest-xdist)."""
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_net_params(seed: int, n_h: int = 6, n_v: int = 3, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n_h, n_v, generator=g, dtype=torch.float64)


def scipy_reference(xi, beta, gamma, v0, t_eval, h0=None, tau_v=1.0, tau_h=None, max_step=np.inf):
    """Independent float64 reference for ``integrate``: DOP853 (rtol 1e-12) on the frozen-gate
    field; for RecLag (``gamma`` given) the gate switches are located with solve_ivp's own event
    detection and the solve restarted from each crossing. A finite ``max_step`` keeps the steps
    short enough that solve_ivp's sign check between steps cannot miss a short excursion into B0.
    Returns (states at ``t_eval``, switch times)."""
    from scipy.integrate import solve_ivp
    from scipy.special import logsumexp, softmax

    xi = np.asarray(xi, dtype=float)
    n_v = xi.shape[1]
    two_var = tau_h is not None

    def hidden(y):
        return y[n_v:] if two_var else xi @ y[:n_v]

    def G(y):  # noqa: N802
        return logsumexp(beta * hidden(y)) - (math.log(gamma) if gamma else 0.0)

    def rhs_factory(open_gate):
        def rhs(_t, y):
            f = softmax(beta * hidden(y)) * open_gate
            dv = (xi.T @ f - y[:n_v]) / tau_v
            if not two_var:
                return dv
            return np.concatenate([dv, (xi @ y[:n_v] - y[n_v:]) / tau_h])
        return rhs

    y = np.concatenate([v0, h0]) if two_var else np.asarray(v0, float)
    open_gate = 1.0 if gamma is None or G(y) >= 0 else 0.0
    t0, t_end = t_eval[0], t_eval[-1]
    out = np.empty((len(t_eval), y.shape[0]))
    times = []
    while True:
        def event(_t, yy):
            return G(yy)
        event.terminal = True
        event.direction = -1 if open_gate else 1
        sol = solve_ivp(rhs_factory(open_gate), (t0, t_end), y, method="DOP853", rtol=1e-12, atol=1e-13,
                        events=event if gamma else None, dense_output=True, max_step=max_step)
        sel = (t_eval >= t0) & (t_eval <= sol.t[-1])
        out[sel] = sol.sol(t_eval[sel]).T
        if sol.status != 1:
            return out, np.array(times)
        t0, y = sol.t_events[0][0], sol.y_events[0][0]
        times.append(t0)
        open_gate = 1.0 - open_gate


def _silence_distributed():
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)


@pytest.fixture
def quiet_distributed():
    """Dask's loggers at ERROR (the sweep tests start and kill workers on purpose)."""
    _silence_distributed()


@pytest.fixture(scope="session")
def cluster():
    """One real 2-worker LocalCluster (processes, 1 thread each), the one ``run_sweep`` embeds,
    for every sweep test of the session (its start-up, two interpreters importing torch, is paid
    once). Tests pass its address, as a user passes ``--scheduler``. (Here and not in
    tests/sweep/conftest.py: the folders share the module name ``conftest`` on the path.)"""
    from hopdyn.sweep.run import embedded_client

    _silence_distributed()
    with embedded_client(2, 1, 1) as client:
        yield client.scheduler.address
