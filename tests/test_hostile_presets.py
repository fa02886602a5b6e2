"""Issue 11's hostile inputs, part 3: a user's presets belong to their owner.

On a shared server a saved preset lives in its session only; on localhost it persists
in the presets folder. Built-in presets cannot be replaced, names are checked and never
read as paths, descriptions are bounded, and a preset is kept only when it reads back.
"""

import copy

import gradio as gr
import pytest

from app import limits, ui, user_presets
from app.session import Session
from collage_core import presets


def _save(session, name, description="", grid=12):
    return ui.save_user_preset(name, description, grid, "rot", 0.4, 0, 0, "noise", 2, session)


def test_a_saved_preset_belongs_to_its_session_only(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    user_presets.configure("0.0.0.0")  # a shared server
    alice, bob = Session(), Session()
    update, look = _save(alice, "Mine", "soft")
    assert update["value"] == "mine" and "mine" in update["choices"] and "mine" in look["choices"]
    assert ui.apply_preset("mine", alice)[0] == 12  # usable at once, no restart
    assert "mine" not in user_presets.names(bob)
    with pytest.raises(gr.Error, match="Unknown preset 'mine'"):
        ui.apply_preset("mine", bob)
    assert not list(tmp_path.iterdir())  # nothing written for everyone


@pytest.mark.parametrize("name", ["natural", "deep-zoom", "Natural", " natural "])
def test_built_in_presets_cannot_be_replaced(name, monkeypatch, tmp_path):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    user_presets.configure("127.0.0.1")
    try:
        before = ui.apply_preset("natural", Session())
        with pytest.raises(gr.Error, match="built-in"):
            _save(Session(), name, grid=2)
        (tmp_path / "natural.toml").write_text("[fractalize]\ngrid = 2\n")  # even a file on disk
        assert ui.apply_preset("natural", Session()) == before
    finally:
        user_presets.configure(None)


def test_local_user_presets_persist_only_on_localhost(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURAL_COLLAGE_PRESETS", str(tmp_path))
    user_presets.configure("127.0.0.1")
    try:
        _save(Session(), "kept", "for later", grid=16)
        assert presets.read_preset(tmp_path / "kept.toml").config().grid == 16
        assert "kept" in user_presets.names(Session())  # a new tab sees it without a restart
    finally:
        user_presets.configure(None)
    assert "kept" not in user_presets.names(Session())


@pytest.mark.parametrize(
    "description,message",
    [
        ("x" * (5 * 2**20), "at most 200"),
        ("line\nbreak", "control characters"),
        ("bell\x07", "control characters"),
        ("escape\x1b[31m", "control characters"),
    ],
)
def test_descriptions_are_bounded_and_clean(description, message):
    with pytest.raises(gr.Error, match=message):
        _save(Session(), "ok-name", description)


def test_presets_per_session_are_bounded_and_names_are_checked():
    session = Session()
    for i in range(limits.MAX_SESSION_PRESETS):
        _save(session, f"p{i}")
    _save(session, "p0", "overwrite is fine")
    with pytest.raises(gr.Error, match="already holds"):
        _save(session, "one-more")
    for bad in ("../../etc/passwd", "", "a" * 41, "name\x00"):
        with pytest.raises(gr.Error, match="preset name|Give the preset a name"):
            _save(Session(), bad)
    with pytest.raises(gr.Error, match="studio's page"):
        ui.save_user_preset("x", "", 12, "rot", 0.4, 0, 0, "noise", 2, None)  # fn_index call without a session


def test_presets_are_looked_up_by_name_never_by_path(tmp_path):
    evil = tmp_path / "evil.toml"
    evil.write_text("[fractalize]\ngrid = 2\n")
    with pytest.raises(gr.Error, match="Unknown preset"):
        ui.apply_preset(str(evil), Session())


def test_saved_only_when_it_reads_back(monkeypatch):
    monkeypatch.setattr(user_presets, "_reread", lambda preset: ("something else",))
    session = Session()
    with pytest.raises(gr.Error, match="does not read back"):
        _save(session, "lost")
    assert "lost" not in session.presets


def test_sessions_deep_copy_fresh_presets():
    s = Session()
    s.presets["x"] = presets.Preset(name="x")
    assert copy.deepcopy(s).presets == {}
