"""Neural Collage Studio's engine: images as attractors of contractive Collage operators.

The public API::

    import collage_core as cc
    code = cc.fractalize(image, grid=32, symmetries="d4", strength=0.0)
    code.render(magnify=8)
    code.render(magnify=4, colour="ice")  # a palette: the luma through a colour ramp
    code.save("photo.collage"); cc.FractalCode.load("photo.collage")
    code.render_view(center=(0.5, 0.5), zoom=1e6, size=(512, 512), autocontrast=True)
    cc.export_zoom(code, "zoom.gif", zoom=1000.0, seconds=10.0, fps=24)
    cc.export_zoom(code, "loop.mp4", cc.ZoomSettings(zoom=4096, loop=True, easing="linear"))
    cc.export_zoom(code, "dive.mp4", keyframes=[((0.5, 0.5), 1), ((0.3, 0.6), 1e9)], seconds=8)
    cc.render_poster(code, "poster.png", size=(8192, 8192), center=(0.3, 0.6), zoom=1e6)
"""

from .cancel import cancel_scope
from .code import FractalCode
from .config import FractalizeConfig
from .decode import decode_exact, decode_iterative
from .device import pick_device
from .fit import Cancelled, fit_closed_form, refine
from .fractalize import fractalize
from .image_io import open_image
from .loop_cell import loop_cell
from .operator import collage_step, contract
from .palette import PALETTES, Palette
from .poster import render_poster
from .resample import area_resize
from .symmetry import SYMMETRIES
from .view_spec import ViewSpec, code_hash
from .viewport import ViewRenderer, render_view
from .zoom import (
    KeyframePath,
    ZoomPath,
    ZoomSettings,
    export_frames,
    export_zoom,
    load_keyframes,
    loop_center,
    zoom_frames,
)

__all__ = [
    "PALETTES",
    "SYMMETRIES",
    "Palette",
    "ViewRenderer",
    "ViewSpec",
    "ZoomPath",
    "ZoomSettings",
    "Cancelled",
    "FractalCode",
    "FractalizeConfig",
    "KeyframePath",
    "area_resize",
    "cancel_scope",
    "code_hash",
    "collage_step",
    "contract",
    "decode_exact",
    "decode_iterative",
    "export_frames",
    "export_zoom",
    "fit_closed_form",
    "fractalize",
    "load_keyframes",
    "loop_cell",
    "loop_center",
    "open_image",
    "pick_device",
    "refine",
    "render_poster",
    "render_view",
    "zoom_frames",
]
