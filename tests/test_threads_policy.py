"""The thread policy's benchmark logic (timings themselves live in ``hopdyn bench``)."""
import torch

from hopdyn._threads import THREADS_THRESHOLD, few_threads
from hopdyn.bench.threads import _crossover, _regret, _threshold_regret


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


def test_threshold_regret_compares_with_the_best_cut_in_hindsight():
    # two threads pay from work 3 on, quietly and loaded: the best cut is at 3
    quiet = [_row(1, 1.0, 2.0, 1), _row(2, 1.0, 1.5, 1), _row(3, 2.0, 1.0, 1), _row(4, 4.0, 1.0, 2)]
    loaded = [_row(1, 1.0, 4.0, 1), _row(2, 1.0, 1.5, 1), _row(3, 2.0, 2.0, 1), _row(4, 4.0, 2.0, 2)]
    ratio, best = _threshold_regret(quiet, loaded, 2)
    assert best == 3
    assert abs(ratio - 2.0 ** (1 / 8)) < 1e-12  # the pick at work 3 costs 2x in one of eight cells
    for q in quiet:
        q["few_threads_picks"] = 1 if q["work"] < 3 else 2
    assert _threshold_regret(quiet, loaded, 2) == (1.0, 3)


def test_few_threads_switches_at_the_threshold_and_restores():
    before = torch.get_num_threads()
    with few_threads(THREADS_THRESHOLD - 1):
        assert torch.get_num_threads() == 1
    with few_threads(THREADS_THRESHOLD):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before
