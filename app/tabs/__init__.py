"""The studio's tabs, one module each: its layout, its wiring and its thin handlers.

``fractalize`` (with its panels ``converge`` and ``presets``, and its controls as one
``fractalize_request.FractalizeRequest``), ``zoom``, ``explore``, ``digits``; what they
share (choice lists, parsers, Gradio adapters) is in ``common``.
"""
