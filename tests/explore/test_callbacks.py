"""The explorer's reducer: clicks, zooms and dragged memories make the next state (no browser)."""
import pytest
from dash import no_update

from hopdyn.explore import State
from hopdyn.explore.callbacks import Explorer
from hopdyn.explore.inputs import builtin_memories
from hopdyn.explore.state import MAX_STARTS


@pytest.fixture
def ex():
    return Explorer(builtin_memories(), State(), "planar")


def click(x, y):
    return {"points": [{"x": x, "y": y}]}


def test_clicks_start_trajectories_add_and_delete_memories(ex):
    xi = builtin_memories()
    s = ex._click(State(), click(0.5, -0.25), xi)
    assert s.starts == ((0.5, -0.25),)
    for k in range(MAX_STARTS + 3):
        s = ex._click(s, click(k, 0.0), xi)
    assert len(s.starts) == MAX_STARTS and s.starts[-1] == (MAX_STARTS + 2, 0.0)
    added = ex._click(State(click="add"), click(3.0, 3.0), xi)
    assert len(added.memories) == 6 and added.memories[-1] == (3.0, 3.0)
    first = tuple(map(float, xi[0]))
    deleted = ex._click(State(click="delete"), click(first[0] + 0.01, first[1]), xi)
    assert len(deleted.memories) == 4 and first not in deleted.memories
    with pytest.raises(ValueError, match="last memory"):
        ex._click(State(click="delete", memories=((1.0, 1.0),)), click(0, 0), xi)


def test_zoom_and_drag_change_the_extent_and_the_memories(ex):
    xi = builtin_memories()
    zoom = {"xaxis.range[0]": -1, "xaxis.range[1]": 1, "yaxis.range[0]": -0.5, "yaxis.range[1]": 2}
    assert ex._relayout(State(), zoom, xi).extent == (-1.0, 1.0, -0.5, 2.0)
    assert ex._relayout(State(extent=(-1.0, 1.0, -1.0, 1.0)), {"xaxis.autorange": True}, xi).extent is None
    drag = {"shapes[2].x0": 0.9, "shapes[2].x1": 1.1, "shapes[2].y0": -2.1, "shapes[2].y1": -1.9}
    moved = ex._relayout(State(), drag, xi)
    assert moved.memories[2] == pytest.approx((1.0, -2.0))
    assert moved.memories[:2] == tuple(tuple(map(float, m)) for m in xi[:2])
    assert ex._relayout(State(), {"dragmode": "pan"}, xi) is None


def test_controls_build_the_state_and_bad_values_raise(ex):
    controls = [3.0, 2.0, [], "smooth", 10.0, "quadratic", "memories", 0, 1, "", "", 100, "basins", ["b0"], "trajectory"]
    s = ex._from_controls(State(starts=((1.0, 1.0),)), controls)
    assert (s.beta, s.gamma, s.gate, s.kappa, s.n, s.background, s.overlays) == (8.0, 100.0, "smooth", 10.0, 100,
                                                                                  "basins", ("b0",))
    assert s.starts == ((1.0, 1.0),)  # a new β keeps the trajectories' starts
    assert ex._from_controls(State(), [*controls[:2], ["vanilla"], *controls[3:]]).gamma is None
    for k, bad, msg in [(4, 0.0, "kappa"), (0, None, "β"), (11, None, "grid points")]:
        with pytest.raises(ValueError, match=msg):
            ex._from_controls(State(), controls[:k] + [bad] + controls[k + 1:])


def _reduce(ex, trigger, *, controls=None, uploaded=None, stored=None, source=""):
    """The reducer as Dash calls it, fired by ``trigger`` (``"id.prop"``)."""
    from contextvars import copy_context

    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    from hopdyn.explore.layout import controls_of

    def call():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": trigger, "value": None}]))
        return ex.reduce("", controls if controls is not None else controls_of(State()), None, None, uploaded,
                         stored, source)

    return copy_context().run(call)


def _npy(array) -> str:
    import base64
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    return "data:application/octet-stream;base64," + base64.b64encode(buf.getvalue()).decode()


def test_an_upload_overtaken_by_a_control_echo_is_still_applied(ex):
    # Dash drops the answer of a callback call that a newer call of the same callback overtakes:
    # the upload's own reducer call may be lost, so the next call, whatever fired it, applies it
    from hopdyn.explore.state import decode, encode

    stored = encode(State(beta=8.0))
    uploaded, error = ex.upload(_npy([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), "three.npy")
    assert error == "" and uploaded["source"] in ex.sources
    assert ex.memories(uploaded["source"])[0].shape == (3, 2)
    _reduce(ex, "uploaded.data", uploaded=uploaded, stored=stored)  # its answer never arrives
    query, data, source, error, values = _reduce(ex, "beta.value", uploaded=uploaded, stored=stored)
    assert source == uploaded["source"] and error == "" and query == data
    # applied once: the echoes after it change nothing
    echo = _reduce(ex, "beta.value", controls=values, uploaded=uploaded, stored=data, source=source)
    assert echo[:4] == (no_update,) * 4
    assert decode(data, State()).beta == 8.0  # the upload kept the other settings


def test_a_bad_upload_shows_one_line_and_changes_nothing(ex):
    uploaded, error = ex.upload(_npy([["a", "b"]]), "bad.npy")
    assert uploaded is no_update and error.startswith("error: ") and "\n" not in error
    assert ex.upload(None, None) == (no_update, no_update)
    # a store from another server (an unknown source) is ignored
    assert _reduce(ex, "uploaded.data", uploaded={"source": "elsewhere"}, stored="")[2] is no_update
