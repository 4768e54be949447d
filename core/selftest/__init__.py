"""`dovecote --selftest`: the whole default path run once on generated images, for support and for checking a
built app (frozen or not) on a machine without a display: the bundled backbone, a store, training a head,
classifying, ONNX Runtime against torch, the log (core/selftest/checks.py). The window adds its own check
(desktop/app.py). May import every core capability below core.cli."""
