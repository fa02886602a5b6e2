"""Zoom animations: settings, paths, loops, keyframed dives, frames and the media writers.

The table of contents::

    settings.py   ZoomSettings: one validated description of an animation (the defaults)
    path.py       ZoomPath: where each frame looks (target, easing, ping-pong, reverse)
    loop.py       seamless loops: the loop cell's fixed point, cycles, exactness
    keyframes.py  KeyframePath: a dive through recorded views at constant perceived speed
    frames.py     zoom_frames: the frames, rendered and toned one at a time
    writers.py    the registry of media writers (gif.py, mp4.py, webp.py, apng.py)
    export.py     export_zoom, export_frames: frames streamed into a file, atomically

The engine (layout, operator, fit, decode, code, fractalize) never imports this package;
it renders through :mod:`collage_core.viewport` and :mod:`collage_core.tone`.
"""

from .export import export_frames, export_zoom
from .frames import zoom_frames, zoom_path_for
from .keyframes import KeyframePath, keyframe_frames, keyframes_json, load_keyframes, parse_keyframes
from .loop import auto_cell, auto_target, loop_center
from .path import EASINGS, ZoomPath, cover_zoom
from .settings import MAX_FRAMES, ZoomSettings
from .writers import WRITERS, WriterSpec, register_writer, writer_for

__all__ = [
    "EASINGS",
    "MAX_FRAMES",
    "WRITERS",
    "KeyframePath",
    "WriterSpec",
    "ZoomPath",
    "ZoomSettings",
    "auto_cell",
    "auto_target",
    "cover_zoom",
    "export_frames",
    "export_zoom",
    "keyframe_frames",
    "keyframes_json",
    "load_keyframes",
    "loop_center",
    "parse_keyframes",
    "register_writer",
    "writer_for",
    "zoom_frames",
    "zoom_path_for",
]
