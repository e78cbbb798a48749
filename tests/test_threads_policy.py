"""The thread policy's benchmark logic (timings themselves live in ``hopdyn bench``)."""
import torch

from hopdyn._threads import THREADS_THRESHOLD, few_threads
from hopdyn.bench.threads import _crossover, _regret


def _row(work, one, two, picks):
    return {"work": work, "one_thread_ms": one, "2_threads_ms": two, "few_threads_picks": picks}


def test_crossover_is_where_more_threads_win_from_then_on():
    rows = [_row(1, 1.0, 0.9, 1), _row(2, 1.0, 1.1, 1), _row(3, 1.0, 0.8, 1), _row(4, 2.0, 1.0, 2)]
    assert _crossover(rows, 2) == 3  # the early win at work 1 is not a crossover
    assert _crossover([_row(1, 1.0, 2.0, 1)], 2) is None


def test_regret_prefers_the_choice_with_the_smaller_worst_case():
    # quiet: two threads 1.4x faster; loaded: two threads 3x slower -> one thread is robust
    quiet, loaded = [_row(1, 1.4, 1.0, 1)], [_row(1, 1.0, 3.0, 1)]
    assert _regret(quiet, loaded, 2) == [1.0]
    quiet[0]["few_threads_picks"] = 2
    assert abs(_regret(quiet, loaded, 2)[0] - 3.0 / 1.4) < 1e-12


def test_few_threads_switches_at_the_threshold_and_restores():
    before = torch.get_num_threads()
    with few_threads(THREADS_THRESHOLD - 1):
        assert torch.get_num_threads() == 1
    with few_threads(THREADS_THRESHOLD):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before
