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
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # as the CLI does
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
