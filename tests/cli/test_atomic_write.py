"""atomic_path: an interrupt at any point leaves no temporary file behind."""
import os
import signal
import tempfile

import pytest

import hopdyn._io as io_
from hopdyn._io import atomic_path


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@pytest.fixture
def sigterm_interrupts():
    # a handler that raises, as under the CLI (without its sticky note, see hopdyn._interrupts)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_interrupt_right_after_the_temporary_file_is_created(tmp_path, monkeypatch, sigterm_interrupts):
    mkstemp = tempfile.mkstemp

    def created_then_interrupted(*args, **kwargs):
        out = mkstemp(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives before atomic_path could arm its clean-up
        return out

    monkeypatch.setattr(io_.tempfile, "mkstemp", created_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "fig.png") as tmp:
            tmp.write_bytes(b"never reached")
    assert os.listdir(tmp_path) == []


def test_interrupt_while_writing_and_success(tmp_path, sigterm_interrupts):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
    assert os.listdir(tmp_path) == []
    with atomic_path(tmp_path / "b.txt") as tmp:
        tmp.write_text("whole")
    assert os.listdir(tmp_path) == ["b.txt"] and (tmp_path / "b.txt").read_text() == "whole"


def test_works_off_the_main_thread(tmp_path):
    # signal handlers cannot be swapped there (nor can an interrupt arrive there)
    import threading

    def write():
        with atomic_path(tmp_path / "t.txt") as tmp:
            tmp.write_text("ok")

    errors = []
    before = signal.getsignal(signal.SIGINT)
    worker = threading.Thread(target=_record, args=(write, errors))
    worker.start()
    worker.join()
    assert errors == [] and (tmp_path / "t.txt").read_text() == "ok"
    assert signal.getsignal(signal.SIGINT) is before


def _record(fn, errors):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        errors.append(exc)


# -- a swallowed interrupt still stops the CLI (matplotlib's font lookup lost one in ~20 Ctrl-Cs) --------

def _swallowing_library():
    """Stand-in for library code that loses a KeyboardInterrupt raised by a signal handler."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # the handler runs here
    except KeyboardInterrupt:
        pass


@pytest.mark.parametrize("when", ["before_write", "while_writing"])
def test_cli_stops_at_the_next_write_after_a_swallowed_interrupt(tmp_path, monkeypatch, capsys, when):
    import hopdyn.cli.figures as cli_figures
    from hopdyn.cli import main
    from hopdyn.figures import FigureSpec

    made = []

    def make(out):
        if when == "before_write":
            _swallowing_library()
        with atomic_path(out / "a.txt") as tmp:
            tmp.write_text("a")
            if when == "while_writing":
                _swallowing_library()
        made.append("a")
        return [out / "a.txt"]

    monkeypatch.setattr(cli_figures, "load_all", lambda: {"fake": FigureSpec("fake", "a stand-in", make)})
    before = signal.getsignal(signal.SIGINT)
    assert main(["figures", "--out", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err.strip().endswith("hopdyn figures: interrupted")
    assert made == [] and not (tmp_path / "out" / "a.txt").exists()
    assert [n for n in os.listdir(tmp_path / "out") if n.startswith(".")] == []
    assert signal.getsignal(signal.SIGINT) is before
    # the next run is not haunted by the last one's interrupt
    monkeypatch.setattr(cli_figures, "load_all", lambda: {"fake": FigureSpec("fake", "a stand-in", lambda out: [])})
    assert main(["figures", "--out", str(tmp_path / "out")]) == 0


def test_cli_reports_an_interrupt_swallowed_after_the_last_write(tmp_path, monkeypatch, capsys):
    import hopdyn.cli.figures as cli_figures
    from hopdyn.cli import main
    from hopdyn.figures import FigureSpec

    monkeypatch.setattr(cli_figures, "load_all", lambda: {"fake": FigureSpec("fake", "a stand-in", lambda out: [])})
    monkeypatch.setattr(cli_figures, "maybe_write_json", lambda *a: _swallowing_library())
    assert main(["figures", "--out", str(tmp_path / "out")]) == 130


def test_interrupts_outside_the_cli_are_untouched(tmp_path):
    # library use: no sticky state, the default handler's KeyboardInterrupt, caught by the caller, is the end of it
    from hopdyn._interrupts import interrupted

    _swallowing_library()
    assert not interrupted()
    with atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "x.txt").read_text() == "x"
