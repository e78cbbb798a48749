"""The house rules of issue 13: the library never imports the experiments, each experiment's
result has its own name, and the experiment names left the library namespaces."""
import subprocess
import sys

import hopdyn as hd


def test_the_library_does_not_import_the_experiments():
    code = ("import sys, hopdyn as hd\n"
            "for room in ('ood', 'adaptive', 'continual', 'mha', 'analysis', 'datasets', 'plots', 'collapse'):\n"
            "    getattr(hd, room)\n"
            "print(sorted(m for m in sys.modules if m.startswith('hopdyn.experiments')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_experiment_names_are_gone_from_the_library():
    for room, names in {hd.ood: ("run_digits", "digits_features"),
                        hd.adaptive: ("paper_table", "run_setting", "Setting", "synthetic_memories", "digits_memories"),
                        hd.continual: ("tractable_experiment", "digits_experiment", "DigitsResult", "fixed_points",
                                       "paired_bootstrap")}.items():
        assert not [n for n in names if hasattr(room, n)], room.__name__


def test_result_classes_have_distinct_names():
    from hopdyn.experiments import adaptive, continual, mha, ood

    names = [n for mod in (adaptive, continual, mha, ood) for n, obj in vars(mod).items()
             if isinstance(obj, type) and obj.__module__ == mod.__name__]
    assert len(names) == len(set(names)), names
    assert {"OODDigitsResult", "MHADigitsResult", "ContinualDigitsResult"} <= set(names)
