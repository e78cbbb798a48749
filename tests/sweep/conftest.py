import logging

import pytest


@pytest.fixture(scope="session")
def cluster():
    """One real 2-worker LocalCluster (processes, 1 thread each), the one ``run_sweep`` embeds,
    for every sweep test of the session (its start-up, two interpreters importing torch, is paid
    once). Tests pass its address, as a user passes ``--scheduler``."""
    from hopdyn.sweep.run import embedded_client

    _silence()
    with embedded_client(2, 1, 1) as client:
        yield client.scheduler.address


def _silence():
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _quiet_distributed():
    _silence()
