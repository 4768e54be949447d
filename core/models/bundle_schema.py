"""What a model file's metadata and tensors may hold, with bounds, checked before anything uses them.

A model file may come from anyone. Every field is checked for its type and a sane range (a crafted
`input_size: 100000` would otherwise ask for a 120 GB batch; `std: [0, 0, 0]` or a NaN weight would give
`nan` for every image), and JSON nesting is bounded before parsing. Errors are `SchemaError`s whose text
says which field is wrong, for a message "… is a damaged Dovecote model (<reason>)"."""
from __future__ import annotations

import json
import math
from numbers import Real

import numpy as np

FORMAT = "dovecote-model"
MAX_HEADER_CHARS = 10_000_000  # metrics and configs are a few kB; 10 MB leaves room and bounds the parse
MAX_DEPTH = 64  # our metadata nests 4 deep; 100,000 deep would exhaust the parser's stack
MAX_CLASSES = 10_000
MAX_CLASS_NAME = 200
INPUT_SIZE = (16, 1024)  # pixels of the square network input (EfficientNet-Lite4 uses 300)
MAX_RESIZE_FACTOR = 4  # the shorter side before the centre crop: input_size up to 4x input_size
MAX_HIDDEN = 65_536  # width of the head's hidden layer
MAX_TEXT = 1_000  # app_version, created, backbone: short strings
MAX_INT8_BYTES = 1 << 30  # an int8 backbone is a few MB (EfficientNet-Lite0: 3.5 MB)


class SchemaError(ValueError):
    """The file's metadata or weights are not what a Dovecote model holds."""


class NewerFormat(SchemaError):
    """Made by a newer Dovecote: not damaged, but not readable by this one."""


def parse_header(text: str | None) -> dict | None:
    """The metadata JSON as a dict, or None when the file has none (not a Dovecote model)."""
    if text is None:
        return None
    if len(text) > MAX_HEADER_CHARS:
        raise SchemaError(f"its metadata is {len(text):,} characters long")
    if _nesting(text) > MAX_DEPTH:
        raise SchemaError(f"its metadata is nested more than {MAX_DEPTH} levels deep")
    try:
        header = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError) as error:
        raise SchemaError(f"its metadata is not valid JSON: {error}") from None
    return header if isinstance(header, dict) else None


def check_header(header: dict, max_version: int) -> None:
    """Every field the app uses: type and bounds. Raises NewerFormat or SchemaError."""
    if header.get("format") != FORMAT:
        raise SchemaError(f"its format is {_shown(header.get('format'))}, not {FORMAT!r}")
    version = _integer(header, "format_version", 1, None)
    if version > max_version:
        raise NewerFormat(f"format version {version}")
    classes = header.get("classes")
    if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
        raise SchemaError(f"'classes' must be a list of 2 to {MAX_CLASSES:,} names")
    if not all(isinstance(c, str) and 0 < len(c.strip()) and len(c) <= MAX_CLASS_NAME for c in classes):
        raise SchemaError(f"every class must be a name of 1 to {MAX_CLASS_NAME} characters")
    if len(set(classes)) != len(classes):
        raise SchemaError("two classes have the same name")
    _text(header, "backbone", required=True)
    for key in ("app_version", "created"):
        _text(header, key, required=False)
    for key in ("includes_backbone", "fine_tuned", "test_time_flip"):
        if key in header and not isinstance(header[key], bool):
            raise SchemaError(f"{key!r} must be true or false, not {_shown(header[key])}")
    if header.get("run_id") is not None:
        _integer(header, "run_id", 0, None)
    if "metrics" in header and not isinstance(header["metrics"], dict):
        raise SchemaError("'metrics' must be an object")
    check_preprocessing(header.get("preprocessing"))


def check_int8(check, network: np.ndarray | None) -> None:
    """The int8 check's record (core.models.int8.record) and the network it vouches for."""
    if network is not None and (network.dtype != np.uint8 or network.ndim != 1
                                or not 0 < network.size <= MAX_INT8_BYTES):
        raise SchemaError(f"its int8 network is a {network.dtype} tensor of shape {list(network.shape)}, not bytes")
    if check is None:
        if network is not None:
            raise SchemaError("it holds an int8 network without the record of its check")
        return
    if not isinstance(check, dict):
        raise SchemaError("'int8' must be an object")
    if not isinstance(check.get("passed"), bool):
        raise SchemaError(f"'int8.passed' must be true or false, not {_shown(check.get('passed'))}")
    for key in ("agreement", "threshold"):
        if not _is_number(check.get(key)) or not 0 <= check[key] <= 2:
            raise SchemaError(f"'int8.{key}' must be a share from 0 to 1, not {_shown(check.get(key))}")
    if "seconds" in check and (not _is_number(check["seconds"]) or check["seconds"] < 0):
        raise SchemaError(f"'int8.seconds' must be a duration, not {_shown(check['seconds'])}")
    _integer(check, "images", 0, None, where="int8")
    for key in ("checked", "format", "reason"):
        _text(check, key, required=key == "checked")
    if check["passed"] and network is None:
        raise SchemaError("its int8 check passed but the int8 network is missing")


def check_preprocessing(prep) -> None:
    if not isinstance(prep, dict):
        raise SchemaError("'preprocessing' must be an object")
    size = _integer(prep, "input_size", *INPUT_SIZE, where="preprocessing")
    _integer(prep, "resize", size, MAX_RESIZE_FACTOR * size, where="preprocessing")
    _integer(prep, "version", 1, 1_000, where="preprocessing")
    for key, low, high in (("mean", -10.0, 10.0), ("std", 1e-3, 100.0)):
        values = prep.get(key)
        if (not isinstance(values, list) or len(values) != 3
                or not all(_is_number(v) and low <= v <= high for v in values)):
            raise SchemaError(f"'preprocessing.{key}' must be 3 numbers from {low:g} to {high:g}, "
                              f"not {_shown(values)}")


def check_tensors(tensors: dict[str, np.ndarray], head_keys: tuple[str, ...], head_prefix: str,
                  backbone_prefix: str, n_classes: int, feature_dim: int, includes_backbone: bool | None) -> None:
    """Shapes of the head against the classes and backbone, and every weight a finite float."""
    for key, value in tensors.items():
        if not key.startswith((head_prefix, backbone_prefix)):
            raise SchemaError(f"it holds an unknown tensor {key!r}")
        floating = np.issubdtype(value.dtype, np.floating)
        # a network's state also counts things in integers (batch norm's num_batches_tracked); a head does not
        if not floating and (key.startswith(head_prefix) or not np.issubdtype(value.dtype, np.integer)):
            raise SchemaError(f"tensor {key!r} holds {value.dtype}, not floating-point numbers")
        if floating and not np.isfinite(value).all():
            raise SchemaError(f"tensor {key!r} holds NaN or infinite weights")
    has_backbone = any(k.startswith(backbone_prefix) for k in tensors)
    if includes_backbone is not None and has_backbone != includes_backbone:
        raise SchemaError("its metadata and its tensors disagree on whether the backbone is included")
    missing = [k for k in head_keys if head_prefix + k not in tensors]
    if missing:
        raise SchemaError(f"its head lacks {', '.join(missing)}")
    fc1, b1, fc2, b2 = (tensors[head_prefix + k].shape for k in head_keys)
    hidden = fc1[0] if len(fc1) == 2 else -1
    expected = ((hidden, feature_dim), (hidden,), (n_classes, hidden), (n_classes,))
    if not 0 < hidden <= MAX_HIDDEN or (fc1, b1, fc2, b2) != expected:
        raise SchemaError(f"its head's shapes {[list(s) for s in (fc1, b1, fc2, b2)]} do not fit "
                          f"{n_classes} classes and a backbone of {feature_dim} features")


def _nesting(text: str) -> int:
    """Deepest bracket nesting outside strings, without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str):
    raise SchemaError(f"its metadata holds {name}, which is not a number JSON allows")


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _integer(data: dict, key: str, low: int, high: int | None, where: str = "") -> int:
    value = data.get(key)
    name = f"{where}.{key}" if where else key
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise SchemaError(f"{name!r} must be a whole number {bounds}, not {_shown(value)}")
    return value


def _text(data: dict, key: str, required: bool) -> None:
    value = data.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise SchemaError(f"{key!r} must be a short text, not {_shown(value)}")


def _shown(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
