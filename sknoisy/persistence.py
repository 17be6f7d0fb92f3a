"""Saving a fitted classifier without pickle, and loading it without running code from the file.

A saved model is a folder holding two files:

* ``manifest.json``, readable by a person: the format version, the
  estimator's class path and its constructor parameters (the module as a
  class path such as ``"sknoisy.modules.MLP"`` plus its ``module__*``
  parameters), the fitted data that ``predict`` needs (``classes_``,
  ``n_features_in_``, ``input_shape_``, ``transition_matrix_`` ...) and the
  versions of sknoisy, torch, skorch, scikit-learn and numpy that wrote it,
  and the caller's own ``metadata`` (plain JSON, see :func:`read_metadata`);
* ``weights.pt``: the module's ``state_dict``, written by ``torch.save``.

:func:`load_model` reads the manifest as JSON, imports only classes from an
allow-list (sknoisy's own, ``torch.nn``, ``torch.optim``,
``torch.utils.data``, ``skorch.callbacks``, ``skorch.dataset`` and
scikit-learn), rebuilds the estimator from its parameters, restores the
fitted data, initialises the network and loads the weights with
``torch.load(..., weights_only=True)``. Nothing in the folder is ever
unpickled or executed, so a model folder from an untrusted source cannot run
code on load. Only what a manifest can describe is saved: a parameter holding
a module *instance*, a lambda or an object without constructor parameters is
refused by :func:`save_model` with the name of the parameter.

What is not saved: the training history (``history_``) and the fitted
transition-matrix estimator (``transition_matrix_estimator_``); a loaded
model predicts, and can be refitted, but does not remember how it trained.
"""

import builtins
import importlib
import inspect
import json
import math
import numbers
import os
import platform
from pathlib import Path

import numpy as np

__all__ = ["FORMAT_VERSION", "save_model", "load_model", "read_metadata"]

#: Version of the folder layout and manifest written by :func:`save_model`.
#: A reader accepts every version up to its own; a newer one is refused with
#: the versions involved.
FORMAT_VERSION = 1
_FORMAT = "sknoisy-model"
MANIFEST = "manifest.json"
WEIGHTS = "weights.pt"

# Where classes named in a manifest may come from; nothing else is imported.
_ALLOWED_ROOTS = (
    "sknoisy",
    "torch.nn",
    "torch.optim",
    "torch.utils.data",
    "skorch.callbacks",
    "skorch.dataset",
    "sklearn",
)
# Functions a manifest may name: skorch's callbacks default their ``sink`` to print.
_ALLOWED_FUNCTIONS = {"builtins.print": builtins.print}

# Fitted attributes that ``initialize()`` rebuilds or skorch keeps for itself.
_REBUILT = frozenset(
    {
        "module_",
        "criterion_",
        "optimizer_",
        "callbacks_",
        "history_",
        "initialized_",
        "init_context_",
        "cuda_dependent_attributes_",
        "prefixes_",
        "virtual_params_",
    }
)
# skorch keeps the classes in classes_inferred_ behind the classes_ property;
# the manifest uses the name a reader knows.
_MANIFEST_NAMES = {"classes_inferred_": "classes_"}
_ATTRIBUTE_NAMES = {v: k for k, v in _MANIFEST_NAMES.items()}
_TAGS = ("__tuple__", "__ndarray__", "__class__", "__object__", "__function__", "__float__")
_DTYPE_KINDS = "biufUO"
_MAX_DEPTH = 20


# ---------------------------------------------------------------------------
# class paths and the allow-list
# ---------------------------------------------------------------------------
def _allowed_root(path):
    return any(path == root or path.startswith(root + ".") for root in _ALLOWED_ROOTS)


def _class_path(cls, where):
    """The shortest importable dotted path of ``cls`` (``torch.optim.Adam``, not ``torch.optim.adam.Adam``)."""
    qualname = cls.__qualname__
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(
            f"{where}: class {qualname} is defined inside a function, so it cannot be imported by name; "
            "define it at the top level of a module."
        )
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        module_name = ".".join(parts[:end])
        try:
            found = _getattr_path(importlib.import_module(module_name), qualname)
        except (ImportError, AttributeError):
            continue
        if found is cls:
            return f"{module_name}.{qualname}"
    raise ValueError(
        f"{where}: class {cls.__module__}.{qualname} cannot be imported by that name, so a manifest cannot "
        "name it."
    )


def _getattr_path(obj, dotted):
    for name in dotted.split("."):
        obj = getattr(obj, name)
    return obj


def _resolve_class(path, allowed, where):
    """Import the class ``path`` if the allow-list (or ``allowed``) permits it."""
    if not isinstance(path, str) or not path or any(
        not part.isidentifier() or part.startswith("__") for part in path.split(".")
    ):
        raise ValueError(f"{where}: {path!r} is not a class path such as 'sknoisy.modules.MLP'.")
    if not (_allowed_root(path) or path in allowed):
        raise ValueError(
            f"{where}: the manifest names class {path!r}, which is not on sknoisy's allow-list "
            f"({', '.join(_ALLOWED_ROOTS)}). If you trust this model folder, pass "
            f"load_model(..., allowed_classes=[{path!r}])."
        )
    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:end])
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            obj = _getattr_path(module, ".".join(parts[end:]))
        except AttributeError:
            break
        # An allow-listed module may import other things; only its classes, or
        # classes themselves on the allow-list, may be used.
        if isinstance(obj, type) and (path in allowed or _allowed_root(f"{obj.__module__}.{obj.__qualname__}")):
            return obj
        raise ValueError(f"{where}: {path!r} is not a class sknoisy may load (it is a {type(obj).__name__}).")
    raise ValueError(f"{where}: class {path!r} cannot be imported in this environment.")


# ---------------------------------------------------------------------------
# values <-> JSON
# ---------------------------------------------------------------------------
def _init_params(obj, where):
    if hasattr(obj, "get_params"):
        return obj.get_params(deep=False)
    params = {}
    for name, parameter in inspect.signature(type(obj).__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if not hasattr(obj, name):
            raise ValueError(
                f"{where}: {type(obj).__name__} does not keep its constructor parameter {name!r} as an "
                "attribute, so a manifest cannot describe it."
            )
        params[name] = getattr(obj, name)
    return params


def _encode(value, where, depth=0):
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: nested too deeply to describe.")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str) or k in _TAGS]
        if bad:
            raise ValueError(f"{where}: a dict with key {bad[0]!r} cannot be described (keys must be strings).")
        return {k: _encode(v, f"{where}[{k!r}]", depth + 1) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, type):
        return {"__class__": _class_path(value, where)}
    import torch

    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, torch.nn.Module):
        raise ValueError(
            f"{where}: holds a {type(value).__name__} instance, which a manifest cannot describe; pass the "
            "class and its arguments instead, e.g. module=MLP with module__hidden_units=(64,)."
        )
    if callable(value) and not hasattr(value, "get_params") and (
        inspect.isfunction(value) or inspect.isbuiltin(value) or inspect.ismethod(value)
    ):
        for path, allowed in _ALLOWED_FUNCTIONS.items():
            if value is allowed:
                return {"__function__": path}
        name = getattr(value, "__qualname__", repr(value))
        raise ValueError(
            f"{where}: holds the function {name}, which a manifest cannot describe (loading never runs code "
            "from the file); use a class, or a parameter value such as a string, instead."
        )
    path = _class_path(type(value), where)
    if not hasattr(value, "get_params") and not _allowed_root(path):
        raise ValueError(
            f"{where}: holds a {type(value).__name__} object, which a manifest cannot describe; only classes, "
            "plain values and estimators with get_params can be saved."
        )
    params = _init_params(value, where)
    return {
        "__object__": path,
        "params": {name: _encode(v, f"{where}.{name}", depth + 1) for name, v in params.items()},
    }


def _encode_array(array, where):
    if array.dtype.kind not in _DTYPE_KINDS:
        raise ValueError(f"{where}: an array of dtype {array.dtype} cannot be described.")
    if array.dtype.kind == "O":
        flat = array.ravel().tolist()
        if not all(isinstance(v, (str, bool, int, float)) for v in flat):
            raise ValueError(f"{where}: an object array may only hold strings and numbers.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: an array with NaN or infinity cannot be described.")
    return {"__ndarray__": array.tolist(), "dtype": array.dtype.str if array.dtype.kind != "O" else "object",
            "shape": list(array.shape)}


def _decode(value, allowed, where, depth=0):
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: nested too deeply.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, allowed, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise ValueError(f"{where}: unexpected JSON value {value!r}.")
    tags = [tag for tag in _TAGS if tag in value]
    if not tags:
        return {k: _decode(v, allowed, f"{where}[{k!r}]", depth + 1) for k, v in value.items()}
    tag = tags[0]
    if tag == "__tuple__":
        items = value[tag]
        if not isinstance(items, list):
            raise ValueError(f"{where}: __tuple__ must hold a list.")
        return tuple(_decode(v, allowed, f"{where}[{i}]", depth + 1) for i, v in enumerate(items))
    if tag == "__float__":
        if value[tag] not in ("nan", "inf", "-inf"):
            raise ValueError(f"{where}: __float__ must be 'nan', 'inf' or '-inf', got {value[tag]!r}.")
        return float(value[tag])
    if tag == "__ndarray__":
        return _decode_array(value, where)
    if tag == "__function__":
        try:
            return _ALLOWED_FUNCTIONS[value[tag]]
        except (KeyError, TypeError):
            raise ValueError(
                f"{where}: the manifest names the function {value[tag]!r}; only "
                f"{', '.join(_ALLOWED_FUNCTIONS)} may be loaded."
            ) from None
    cls = _resolve_class(value[tag], allowed, where)
    if tag == "__class__":
        return cls
    params = value.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"{where}: 'params' must be an object.")
    kwargs = {k: _decode(v, allowed, f"{where}.{k}", depth + 1) for k, v in params.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: cannot rebuild {value[tag]} from the saved parameters: {exc}") from exc


def _decode_array(value, where):
    dtype = value.get("dtype")
    try:
        dtype = np.dtype(object if dtype == "object" else dtype)
    except TypeError:
        raise ValueError(f"{where}: unknown array dtype {dtype!r}.") from None
    if dtype.kind not in _DTYPE_KINDS:
        raise ValueError(f"{where}: arrays of dtype {dtype} are not loaded.")
    try:
        array = np.array(value["__ndarray__"], dtype=dtype)
        shape = tuple(value.get("shape", array.shape))
        return array.reshape(shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: not a valid array ({exc}).") from None


# ---------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------
def _versions():
    import sklearn
    import skorch
    import torch

    from ._version import __version__

    return {
        "sknoisy": __version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _dumps(value, indent=0):
    """JSON with one entry a line, but each list of numbers or strings (a matrix row) on one line."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k)}: {_dumps(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and value and not all(
        v is None or isinstance(v, (bool, int, float, str)) for v in value
    ):
        items = [f"{pad}{_dumps(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, allow_nan=False)


def _fitted_data(estimator):
    """The fitted attributes a manifest can hold, and the names of those it cannot."""
    fitted, not_saved = {}, []
    for name, value in sorted(vars(estimator).items()):
        if not name.endswith("_") or name.startswith("_") or name in _REBUILT:
            continue
        try:
            if value is None or isinstance(value, (np.ndarray, numbers.Number, str, tuple, list, dict)):
                fitted[_MANIFEST_NAMES.get(name, name)] = _encode(value, name)
                continue
        except ValueError:
            pass
        not_saved.append(name)
    return fitted, not_saved


def _check_metadata(metadata):
    """``metadata`` as it will read back from JSON; a clear error when it is not plain JSON."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict (or None), got {type(metadata).__name__}.")
    try:
        # allow_nan=False: a NaN would be written as invalid JSON
        return json.loads(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"metadata must be plain JSON (string keys; str, int, float, bool, None, list, dict; no NaN): {exc}"
        ) from None


def save_model(estimator, path, *, metadata=None):
    """Save a fitted sknoisy classifier into the folder ``path``, without pickle.

    Parameters
    ----------
    estimator : fitted sknoisy classifier
        Any of sknoisy's skorch-based classifiers (or a subclass), fitted.
    path : str or path-like
        The folder to write; created if needed. An existing folder must be
        empty or hold a model saved earlier (which is replaced).
    metadata : dict or None, default=None
        Anything else to keep with the model, as plain JSON (string keys;
        strings, numbers, booleans, None, lists and dicts), e.g. the names
        of the feature columns or how the inputs were scaled. Read back with
        :func:`read_metadata`; :func:`load_model` ignores it.

    Returns
    -------
    path : pathlib.Path
        The folder, holding ``manifest.json`` and ``weights.pt``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If it is not a skorch-based classifier.
    ValueError
        If a parameter cannot be described in a manifest (a module instance,
        a lambda, a class defined inside a function ...): the message names
        the parameter; or if ``path`` is a file or a folder holding other
        files; or if ``metadata`` is not plain JSON.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> from sknoisy.persistence import load_model, save_model
    >>> X = np.random.RandomState(0).randn(60, 4).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> clf = CrossEntropyClassifier(MLP, module__hidden_units=(8,), max_epochs=2, random_state=0).fit(X, y)
    >>> folder = save_model(clf, tempfile.mkdtemp() + "/model")
    >>> sorted(p.name for p in folder.iterdir())
    ['manifest.json', 'weights.pt']
    >>> loaded = load_model(folder)
    >>> bool(np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))), loaded.classes_.tolist()
    (True, ['no', 'yes'])
    """
    from sklearn.exceptions import NotFittedError
    from skorch import NeuralNet

    if not isinstance(estimator, NeuralNet):
        raise TypeError(
            f"save_model saves sknoisy's classifiers (skorch networks), got {type(estimator).__name__}."
        )
    fitted_check = getattr(estimator, "__sklearn_is_fitted__", None)
    if not getattr(estimator, "initialized_", False) or (fitted_check is not None and not fitted_check()):
        raise NotFittedError(f"This {type(estimator).__name__} is not fitted yet; call fit before save_model.")

    metadata = _check_metadata(metadata)
    params = estimator.get_params(deep=False)
    fitted, not_saved = _fitted_data(estimator)
    manifest = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": _class_path(type(estimator), "estimator"),
        "params": {name: _encode(value, name) for name, value in params.items()},
        "fitted": fitted,
        "not_saved": not_saved,
        "weights": WEIGHTS,
        "versions": _versions(),
    }
    if metadata is not None:
        manifest["metadata"] = metadata
    text = _dumps(manifest) + "\n"

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder; save_model writes a folder.")
    if folder.is_dir():
        others = sorted(p.name for p in folder.iterdir() if p.name not in (MANIFEST, WEIGHTS))
        if others and not (folder / MANIFEST).is_file():
            raise ValueError(
                f"{folder}: the folder is not empty and holds no saved model ({others[0]!r} ...); "
                "choose a new or empty folder."
            )
    folder.mkdir(parents=True, exist_ok=True)

    import torch

    state = {key: tensor.detach().cpu() for key, tensor in estimator.module_.state_dict().items()}
    # Written under temporary names first: a crash leaves the previous model whole.
    torch.save(state, folder / (WEIGHTS + ".tmp"))
    (folder / (MANIFEST + ".tmp")).write_text(text, encoding="utf-8")
    os.replace(folder / (WEIGHTS + ".tmp"), folder / WEIGHTS)
    os.replace(folder / (MANIFEST + ".tmp"), folder / MANIFEST)
    return folder


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------
def _read_manifest(folder):
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder (save_model writes a folder).")
    if not manifest_path.is_file():
        raise ValueError(f"{manifest_path}: missing; {folder} is not a model folder written by sknoisy's save_model.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{manifest_path}: not valid JSON ({exc}); the file is corrupt.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(
            f"{manifest_path}: not a sknoisy model manifest (expected \"format\": \"{_FORMAT}\")."
        )
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{manifest_path}: unknown model format version {version!r}.")
    if version > FORMAT_VERSION:
        written_by = (manifest.get("versions") or {}).get("sknoisy", "a newer sknoisy")
        raise ValueError(
            f"{manifest_path}: written by sknoisy {written_by} in model format {version}; this sknoisy "
            f"({_versions()['sknoisy']}) reads formats up to {FORMAT_VERSION}. Upgrade sknoisy to load it."
        )
    for key in ("estimator", "params", "fitted"):
        if key not in manifest:
            raise ValueError(f"{manifest_path}: the entry {key!r} is missing; the file is corrupt.")
    if not isinstance(manifest["params"], dict) or not isinstance(manifest["fitted"], dict):
        raise ValueError(f"{manifest_path}: 'params' and 'fitted' must be objects; the file is corrupt.")
    return manifest


def read_metadata(path):
    """The ``metadata`` given to :func:`save_model`, without loading the model.

    Parameters
    ----------
    path : str or path-like
        The folder written by :func:`save_model`.

    Returns
    -------
    metadata : dict
        As saved; ``{}`` when none was given.

    Raises
    ------
    ValueError
        If the folder holds no valid manifest (as for :func:`load_model`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> from sknoisy.persistence import read_metadata, save_model
    >>> X = np.random.RandomState(0).randn(40, 3).astype("float32")
    >>> clf = CrossEntropyClassifier(MLP, max_epochs=1, random_state=0).fit(X, X[:, 0] > 0)
    >>> folder = save_model(clf, tempfile.mkdtemp(), metadata={"features": ["a", "b", "c"]})
    >>> read_metadata(folder)
    {'features': ['a', 'b', 'c']}
    """
    folder = Path(path)
    manifest = _read_manifest(folder)
    metadata = manifest.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"{folder / MANIFEST}: 'metadata' must be an object; the file is corrupt.")
    return metadata


def load_model(path, *, device=None, allowed_classes=()):
    """Load a classifier saved by :func:`save_model`; no code from the folder is run.

    Parameters
    ----------
    path : str or path-like
        The folder written by :func:`save_model`.
    device : str or None, default=None
        Put the network on this device (e.g. ``"cpu"`` for a model trained
        on a GPU); None keeps the saved ``device`` parameter.
    allowed_classes : sequence of str, default=()
        Class paths outside the allow-list that you trust this folder to
        name (e.g. your own module ``"mypackage.nets.Net"``).

    Returns
    -------
    estimator : sknoisy classifier
        Fitted: ``predict`` and ``predict_proba`` give what the saved model
        gave. ``history_`` is empty and ``transition_matrix_estimator_`` is
        absent (see the module docstring).

    Raises
    ------
    ValueError
        If a file is missing or corrupt (the message names it), the manifest
        was written in a newer format, names a class outside the allow-list,
        or the weights do not fit the module it describes.

    Examples
    --------
    See :func:`save_model`.
    """
    import torch
    from skorch import NeuralNet

    folder = Path(path)
    manifest = _read_manifest(folder)
    manifest_path = folder / MANIFEST
    allowed = frozenset(allowed_classes)
    where = str(manifest_path)

    cls = _resolve_class(manifest["estimator"], allowed, f"{where}: estimator")
    if not issubclass(cls, NeuralNet):
        raise ValueError(f"{where}: {manifest['estimator']} is not a sknoisy classifier.")
    params = {name: _decode(value, allowed, f"{where}: {name}") for name, value in manifest["params"].items()}
    module = params.pop("module", None)
    if module is None:
        raise ValueError(f"{where}: the parameter 'module' is missing; the file is corrupt.")
    try:
        estimator = cls(module, **params)
    except (TypeError, ValueError) as exc:
        written_by = (manifest.get("versions") or {}).get("sknoisy", "?")
        raise ValueError(
            f"{where}: cannot rebuild {manifest['estimator']} with the saved parameters (written by sknoisy "
            f"{written_by}): {exc}"
        ) from exc
    if device is not None:
        estimator.set_params(device=device)

    for name, value in manifest["fitted"].items():
        if not (isinstance(name, str) and name.isidentifier() and name.endswith("_")) or name.startswith("_") \
                or name in _REBUILT:
            raise ValueError(f"{where}: {name!r} is not a fitted attribute a manifest may set.")
        setattr(estimator, _ATTRIBUTE_NAMES.get(name, name), _decode(value, allowed, f"{where}: {name}"))

    # Building the module draws its initial weights, which are replaced below;
    # the caller's global torch RNG must not move for that.
    with torch.random.fork_rng(devices=[]):
        try:
            estimator.initialize()
        except Exception as exc:  # noqa: BLE001 -- any failure here means the manifest does not describe a net
            hint = ""
            if device is None and str(estimator.device).startswith("cuda"):
                hint = f" (it was saved with device={estimator.device!r}; load_model(..., device='cpu') loads it on the CPU)"
            raise ValueError(f"{where}: the saved parameters do not build a network{hint}: {exc}") from exc

    weights_name = manifest.get("weights", WEIGHTS)
    if not isinstance(weights_name, str) or weights_name in ("", ".", "..") or Path(weights_name).name != weights_name:
        raise ValueError(f"{where}: 'weights' must name a file inside the model folder, got {weights_name!r}.")
    weights_path = folder / weights_name
    if not weights_path.is_file():
        raise ValueError(f"{weights_path}: missing; the model folder is incomplete.")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- torch raises several types for a bad file
        raise ValueError(f"{weights_path}: not a readable weights file ({type(exc).__name__}: {exc}).") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{weights_path}: does not hold a state_dict of tensors.")
    try:
        estimator.module_.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"{weights_path}: the weights do not fit the module described in {MANIFEST}: {exc}"
        ) from None
    return estimator
