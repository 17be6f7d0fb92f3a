"""Saving a fitted classifier without pickle, and loading it as data only.

A saved model is a folder holding two files:

* ``manifest.json``, readable by a person: the format version, the
  estimator's class path and its constructor parameters (the module as a
  class path such as ``"sknoisy.modules.MLP"`` plus its ``module__*``
  parameters), the fitted data that ``predict`` needs (``classes_``,
  ``n_features_in_``, ``input_shape_``, ``transition_matrix_`` ...), the
  training history (one entry an epoch, without the per-batch records), the
  versions of sknoisy, torch, skorch, scikit-learn and numpy that wrote it,
  and the caller's own ``metadata`` (plain JSON, see :func:`read_metadata`);
* ``weights.pt``: the state dict of every network, criterion and optimizer
  the net registered (skorch's ``_modules``, ``_criteria`` and
  ``_optimizers``: ``module_``, the criterion holding a learned T, any
  extra network a method adds, the optimizer's moments), written by
  ``torch.save``. So a loaded model predicts as the saved one did and
  ``partial_fit`` goes on from where it stopped.

What loading a folder can and cannot do
---------------------------------------
A model folder is data. :func:`load_model` never unpickles, imports a
module the folder names outside an allow-list, runs a function, creates a
file or folder, or starts a process:

* the manifest is JSON (at most :data:`MAX_MANIFEST_BYTES`); the weights
  are read with ``torch.load(..., weights_only=True, mmap=True)`` after a
  check that the file is torch's zip format with uncompressed records no
  larger than the file (a pickle is refused, never opened by torch);
* a manifest sets only the parameters its estimator class declares in its
  constructor, plus skorch's ``module``, ``criterion``, ``optimizer``,
  ``lr``, ``max_epochs``, ``batch_size``, ``warm_start``, ``verbose``,
  ``device``, ``classes`` and the ``module__*``, ``criterion__*`` and
  ``optimizer__*`` families. Their values are data: numbers, strings,
  booleans, bounded lists, tuples, dicts and arrays of a declared numeric
  or string dtype and size, classes from the allow-list (sknoisy,
  ``torch.nn``, ``torch.optim``, scikit-learn) of the kind the parameter
  takes, and scikit-learn-style estimators (whose ``__init__`` only stores
  its arguments) built from such data, without ``n_jobs`` or ``memory``;
* callbacks, iterators, datasets, ``train_split``, ``predict_nonlinearity``,
  ``torch_load_kwargs`` and ``compile`` are never rebuilt from a folder: a
  loaded model has the defaults, and the manifest's ``not_restored`` entry
  says what the saved one had (as text, never read back);
* every size is checked before memory is taken: strings, lists and arrays
  (their dtype included) have limits, the number of classes is at most
  :data:`MAX_CLASSES`, and the networks are first built on torch's "meta"
  device (no memory) and their shapes compared with the weights file;
* ``manifest.json`` and the weights file must be regular files inside the
  folder (no symbolic links, no paths);
* every refusal is one ``ValueError`` line that names the file and the
  problem.

What it can do: build the classes it names from the allow-list (or from
``allowed_classes``, which you pass for your own modules) and run their
constructors with the manifest's data, and take memory for the networks the
weights file holds.

Saving over an existing model is atomic: :func:`save_model` writes a new
folder beside the target and renames it into place, so an interrupted save
leaves the previous model loadable.

What is not saved: the fitted transition-matrix estimator
(``transition_matrix_estimator_``) and other fitted objects that are not
data (their names are listed in the manifest's ``not_saved``).
"""

import importlib
import inspect
import json
import math
import numbers
import os
import platform
import secrets
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["FORMAT_VERSION", "MAX_CLASSES", "MAX_MANIFEST_BYTES", "save_model", "load_model", "read_metadata"]

#: Version of the folder layout and manifest written by :func:`save_model`.
#: A reader accepts every version up to its own; a newer one is refused with
#: the versions involved. Version 1 held the module's state dict only.
FORMAT_VERSION = 2
_FORMAT = "sknoisy-model"
MANIFEST = "manifest.json"
WEIGHTS = "weights.pt"

#: The largest manifest :func:`load_model` reads.
MAX_MANIFEST_BYTES = 64 * 2**20
#: The most classes a loaded model may have (a T of MAX_CLASSES**2 floats is 128 MiB).
MAX_CLASSES = 4096
_MAX_ITEMS = 1024  # entries of a list, tuple or dict among the parameters
_MAX_STRING = 65536  # characters of a string, or of an array's string items
_MAX_ARRAY_BYTES = 256 * 2**20
_MAX_NDIM = 32
_MAX_DEPTH = 20
_MAX_PICKLE_BYTES = 64 * 2**20  # the weights file's index of tensors (its data.pkl)

# Where classes named in a manifest may come from; nothing else is imported.
_ALLOWED_ROOTS = ("sknoisy", "torch.nn", "torch.optim", "sklearn")
# Estimators built as parameter values must come from here: their __init__ only stores arguments.
_ESTIMATOR_ROOTS = ("sknoisy", "sklearn")

# skorch's parameters whose values are data; sknoisy's own are those its classes declare.
_SKORCH_DATA_PARAMS = frozenset(
    {"module", "criterion", "optimizer", "lr", "max_epochs", "batch_size", "warm_start", "verbose", "device",
     "classes", "random_state"}
)
_DATA_PREFIXES = ("module__", "criterion__", "optimizer__")
# Parameters that hold code or reach files and processes: never read from a folder.
_NEVER_RESTORED = ("callbacks", "iterator_train", "iterator_valid", "dataset", "train_split",
                   "predict_nonlinearity", "torch_load_kwargs", "compile", "use_caching")
# Parameters of nested estimators that would start processes or write files at their fit.
_PROCESS_PARAMS = {"n_jobs": (None, 1), "pre_dispatch": (None,), "memory": (None,)}

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


def _one_line(text):
    """The first line of ``text`` (messages from torch and numpy may run over several)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


# ---------------------------------------------------------------------------
# class paths and the allow-list
# ---------------------------------------------------------------------------
def _under(path, roots):
    return any(path == root or path.startswith(root + ".") for root in roots)


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


def _resolve_class(path, allowed, where, roots=_ALLOWED_ROOTS):
    """Import the class ``path`` if ``roots`` (or ``allowed``) permit it."""
    if not isinstance(path, str) or not path or len(path) > 300 or any(
        not part.isidentifier() or part.startswith("__") for part in path.split(".")
    ):
        raise ValueError(f"{where}: {str(path)[:80]!r} is not a class path such as 'sknoisy.modules.MLP'.")
    if not (_under(path, roots) or path in allowed):
        raise ValueError(
            f"{where}: the manifest names class {path!r}, which is not on sknoisy's allow-list "
            f"({', '.join(roots)}). If you trust this model folder, pass "
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
        if isinstance(obj, type) and (path in allowed or _under(f"{obj.__module__}.{obj.__qualname__}", roots)):
            return obj
        raise ValueError(f"{where}: {path!r} is not a class sknoisy may load (it is a {type(obj).__name__}).")
    raise ValueError(f"{where}: class {path!r} cannot be imported in this environment.")


def _restorable_params(cls):
    """The parameters a manifest may set on ``cls``: skorch's data parameters and those sknoisy's classes declare."""
    names = set(_SKORCH_DATA_PARAMS)
    for klass in cls.__mro__:
        if not (klass.__module__ or "").startswith("sknoisy") or "__init__" not in vars(klass):
            continue
        for name, parameter in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                names.add(name)
    return frozenset(name for name in names if not _never_restored(name))


def _never_restored(name):
    return any(name == root or name.startswith(root + "__") for root in _NEVER_RESTORED)


def _restorable(cls, name):
    return name in _restorable_params(cls) or (name.startswith(_DATA_PREFIXES) and not _never_restored(name))


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
        name = getattr(value, "__qualname__", repr(value))
        raise ValueError(
            f"{where}: holds the function {name}, which a manifest cannot describe (loading never runs code "
            "from the file); use a class, or a parameter value such as a string, instead."
        )
    path = _class_path(type(value), where)
    if not hasattr(value, "get_params") or not _under(path, _ESTIMATOR_ROOTS):
        raise ValueError(
            f"{where}: holds a {type(value).__name__} object, which a manifest cannot describe; only classes, "
            "plain values and sknoisy or scikit-learn estimators can be saved."
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


class _Decoder:
    """Turns manifest JSON into values, data only: see the module docstring for what it builds."""

    def __init__(self, allowed, where):
        self.allowed = allowed
        self.where = where

    def fail(self, where, problem):
        raise ValueError(f"{self.where}: {where}: {problem}")

    def value(self, value, where, *, classes=True, kind=None, depth=0):
        if depth > _MAX_DEPTH:
            self.fail(where, "nested too deeply.")
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                self.fail(where, f"{value} is not a finite number.")
            return value
        if isinstance(value, str):
            if len(value) > _MAX_STRING:
                self.fail(where, f"a string of {len(value)} characters (at most {_MAX_STRING}).")
            return value
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]", classes=classes, depth=depth + 1)
                    for i, v in enumerate(self.items(value, where))]
        if not isinstance(value, dict):
            self.fail(where, f"unexpected JSON value of type {type(value).__name__}.")
        tags = [tag for tag in _TAGS if tag in value]
        if not tags:
            self.items(value, where)
            return {k: self.value(v, f"{where}[{k!r}]", classes=classes, depth=depth + 1) for k, v in value.items()}
        tag = tags[0]
        if tag == "__tuple__":
            items = value[tag]
            if not isinstance(items, list):
                self.fail(where, "__tuple__ must hold a list.")
            return tuple(self.value(v, f"{where}[{i}]", classes=classes, depth=depth + 1)
                         for i, v in enumerate(self.items(items, where)))
        if tag == "__float__":
            if value[tag] not in ("nan", "inf", "-inf"):
                self.fail(where, f"__float__ must be 'nan', 'inf' or '-inf', got {str(value[tag])[:40]!r}.")
            return float(value[tag])
        if tag == "__ndarray__":
            return self.array(value, where)
        if tag == "__function__":
            self.fail(where, "names a function; a model folder never holds code, so sknoisy refuses it.")
        if not classes:
            self.fail(where, f"{tag} is not allowed here (only plain data).")
        if tag == "__class__":
            return self.a_class(value[tag], where, kind)
        return self.an_object(value, where, depth)

    def items(self, container, where):
        if len(container) > _MAX_ITEMS:
            self.fail(where, f"{len(container)} entries (a parameter holds at most {_MAX_ITEMS}).")
        return container

    def a_class(self, path, where, kind):
        import torch

        cls = _resolve_class(path, self.allowed, f"{self.where}: {where}")
        kinds = {"optimizer": (torch.optim.Optimizer,), "module": (torch.nn.Module,),
                 "criterion": (torch.nn.Module,)}.get(kind)
        if kinds is None:
            from sklearn.base import BaseEstimator

            kinds = (torch.nn.Module, torch.optim.Optimizer, BaseEstimator)
        if path not in self.allowed and not issubclass(cls, kinds):
            names = {torch.nn.Module: "torch module", torch.optim.Optimizer: "torch optimizer"}
            self.fail(where, f"{path} is not a {' or '.join(names.get(k, 'estimator') for k in kinds)} class.")
        return cls

    def an_object(self, value, where, depth):
        from sklearn.base import BaseEstimator
        from skorch import NeuralNet

        path = value["__object__"]
        cls = _resolve_class(path, self.allowed, f"{self.where}: {where}", roots=_ESTIMATOR_ROOTS)
        if not issubclass(cls, BaseEstimator):
            self.fail(where, f"{path} is not an estimator; a manifest builds no other objects.")
        params = value.get("params", {})
        if not isinstance(params, dict):
            self.fail(where, "'params' must be an object.")
        kwargs = self.params(cls, params, where, depth + 1) if issubclass(cls, NeuralNet) else {
            k: self.value(v, f"{where}.{k}", depth=depth + 1) for k, v in self.items(params, where).items()
        }
        for name, harmless in _PROCESS_PARAMS.items():
            if name in kwargs and not any(kwargs[name] is h or kwargs[name] == h for h in harmless):
                self.fail(f"{where}.{name}", f"{kwargs[name]!r} would start processes or write files when the "
                          f"estimator is fitted; a model folder may only set {' or '.join(map(repr, harmless))}.")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            self.fail(where, f"cannot rebuild {path} from the saved parameters: {_one_line(exc)}")

    def params(self, cls, params, where, depth=0):
        """A NeuralNet's constructor parameters: only those :func:`_restorable` names, each data."""
        if depth:
            self.items(params, where)
        kwargs = {}
        for name, value in params.items():
            full = f"{where}.{name}" if depth else name
            if not isinstance(name, str) or not _restorable(cls, name):
                self.fail(full, f"{cls.__name__} does not take this parameter from a model folder (sknoisy "
                          "restores only data parameters; callbacks, iterators, datasets and functions never).")
            kind = name if name in ("module", "criterion", "optimizer") else None
            kwargs[name] = self.value(value, full, kind=kind, depth=depth + 1)
        return kwargs

    def array(self, value, where):
        dtype, shape, data = value.get("dtype"), value.get("shape"), value["__ndarray__"]
        if not isinstance(dtype, str) or len(dtype) > 16:
            self.fail(where, f"unknown array dtype {str(dtype)[:40]!r}.")
        try:
            dtype = np.dtype(object if dtype == "object" else dtype)
        except TypeError:
            self.fail(where, f"unknown array dtype {dtype!r}.")
        if dtype.kind not in _DTYPE_KINDS or (dtype.kind in "biuf" and dtype.itemsize > 8) or dtype.fields:
            self.fail(where, f"arrays of dtype {dtype} are not loaded.")
        if dtype.kind == "U" and dtype.itemsize // 4 > _MAX_STRING:
            self.fail(where, f"dtype {dtype.str} asks for strings of {dtype.itemsize // 4} characters "
                      f"(at most {_MAX_STRING}).")
        if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            self.fail(where, f"the shape must be a list of at most {_MAX_NDIM} sizes >= 0.")
        size = math.prod(shape)
        if size * max(dtype.itemsize, 8) > _MAX_ARRAY_BYTES:
            self.fail(where, f"an array of shape {tuple(shape)} and dtype {dtype.str} is larger than "
                      f"{_MAX_ARRAY_BYTES // 2**20} MiB.")
        flat = self.flatten(data, len(shape), where)
        if len(flat) != size:
            self.fail(where, f"holds {len(flat)} values, but its shape {tuple(shape)} says {size}.")
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in flat):
            self.fail(where, "an array holds numbers and strings only.")
        if any(isinstance(v, str) and len(v) > _MAX_STRING for v in flat):
            self.fail(where, f"an array string is longer than {_MAX_STRING} characters.")
        try:
            return np.array(flat, dtype=dtype).reshape(shape)
        except (TypeError, ValueError, OverflowError) as exc:
            self.fail(where, f"not a valid array ({_one_line(exc)}).")

    def flatten(self, data, ndim, where):
        if ndim == 0:
            return [data]
        flat, level = [], [data]
        for _ in range(ndim):
            if not all(isinstance(v, list) for v in level):
                self.fail(where, "the nesting of the values does not match the shape.")
            level = [v for sub in level for v in sub]
        flat.extend(level)
        return flat


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
    # every module, criterion and optimizer skorch registered (a second network too) is in the weights file
    components = {f"{name}_" for name in (*estimator._modules, *estimator._criteria, *estimator._optimizers)}
    for name, value in sorted(vars(estimator).items()):
        if not name.endswith("_") or name.startswith("_") or name in _REBUILT or name in components:
            continue
        try:
            if value is None or isinstance(value, (np.ndarray, numbers.Number, str, tuple, list, dict)):
                encoded = _encode(value, name)
                if "__class__" not in json.dumps(encoded) and "__object__" not in json.dumps(encoded):
                    fitted[_MANIFEST_NAMES.get(name, name)] = encoded
                    continue
        except ValueError:
            pass
        not_saved.append(name)
    return fitted, not_saved


def _history(estimator):
    """The history, one plain-JSON entry an epoch; the per-batch records are left out (they can be large)."""
    epochs = []
    for epoch in estimator.history_:
        entry = {"batches": []}
        for key, value in epoch.items():
            if key == "batches":
                continue
            try:
                entry[key] = json.loads(json.dumps(_encode(value, key), allow_nan=False))
            except (TypeError, ValueError):
                continue
        epochs.append(entry)
    return epochs


def _not_restored(estimator):
    """What the net had in the parameters a folder never restores, as text for a reader."""
    try:
        defaults = type(estimator)(estimator.module).get_params(deep=False)
    except Exception:  # noqa: BLE001 -- a subclass with other required arguments: record every such parameter
        defaults = {}
    info = {}
    for name, value in estimator.get_params(deep=False).items():
        if not _never_restored(name) or name == "predict_nonlinearity":
            continue
        default = defaults.get(name, object())
        try:
            same = value is default or bool(value == default)
        except Exception:  # noqa: BLE001 -- arrays, objects without a plain ==
            same = False
        if not same:
            info[name] = repr(value)[:1000]
    return info


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


def _state_names(estimator):
    """The attributes of every network, criterion and optimizer the net registered (``module_``, ...)."""
    names = list(estimator._modules) + list(estimator._criteria) + list(estimator._optimizers)
    return [name + "_" for name in dict.fromkeys(names or ["module"])]


def _cpu_state(obj):
    import torch

    def to_cpu(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu()
        if isinstance(value, dict):
            return {k: to_cpu(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(to_cpu(v) for v in value)
        return value

    return to_cpu(obj.state_dict())


def _swap_in(new, folder):
    """Put the folder ``new`` at ``folder``; an existing ``folder`` is replaced only once ``new`` is whole."""
    if not folder.exists():
        os.rename(new, folder)
        return
    if not any(folder.iterdir()):
        folder.rmdir()
        os.rename(new, folder)
        return
    old = folder.with_name(f".{folder.name}.old-{secrets.token_hex(4)}")
    os.rename(folder, old)
    try:
        os.rename(new, folder)
    except BaseException:
        os.rename(old, folder)  # Ctrl-C or a failure between the renames: the old model goes back
        raise
    shutil.rmtree(old, ignore_errors=True)


def save_model(estimator, path, *, metadata=None):
    """Save a fitted sknoisy classifier into the folder ``path``, without pickle.

    Every learned tensor is saved: the state dicts of all the networks,
    criteria (a learned T) and optimizers the net registered, with the
    fitted data and the per-epoch history, so that a loaded model predicts
    as this one and ``partial_fit`` continues as this one would.
    Callbacks, iterators, datasets, ``train_split`` and ``torch_load_kwargs``
    are not restored by :func:`load_model` (a folder holds no code): the
    manifest's ``not_restored`` entry records the ones that differ from the
    defaults, as text.

    Parameters
    ----------
    estimator : fitted sknoisy classifier
        Any of sknoisy's skorch-based classifiers (or a subclass), fitted.
    path : str or path-like
        The folder to write. An existing folder must be empty or hold a
        model saved earlier, which is replaced atomically: the new model is
        written into a folder beside it and renamed into place, so an
        interrupted save leaves the previous model loadable.
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
        a lambda, a class defined inside a function, a
        ``predict_nonlinearity`` other than ``'auto'``, which would change
        the loaded model's predictions): the message names the parameter;
        or if ``path`` is a file or a folder holding other files; or if
        ``metadata`` is not plain JSON.

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
    nonlinearity = params.get("predict_nonlinearity", "auto")
    if not (isinstance(nonlinearity, str) and nonlinearity == "auto"):
        name = getattr(nonlinearity, "__qualname__", repr(nonlinearity))
        raise ValueError(
            f"predict_nonlinearity: holds {name}; a model folder holds no code, so a loaded model would use "
            "'auto' (the softmax) and predict differently. Save a model with predict_nonlinearity='auto'."
        )
    fitted, not_saved = _fitted_data(estimator)
    names = _state_names(estimator)
    manifest = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": _class_path(type(estimator), "estimator"),
        "params": {name: _encode(value, name) for name, value in params.items() if _restorable(type(estimator), name)},
        "not_restored": _not_restored(estimator),
        "fitted": fitted,
        "not_saved": not_saved,
        "history": _history(estimator),
        "weights": WEIGHTS,
        "states": names,
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

    import torch

    state = {name: _cpu_state(getattr(estimator, name)) for name in names}
    folder.parent.mkdir(parents=True, exist_ok=True)
    new = folder.with_name(f".{folder.name}.saving-{secrets.token_hex(4)}")
    new.mkdir()
    try:
        torch.save(state, new / WEIGHTS)
        (new / MANIFEST).write_text(text, encoding="utf-8")
        _swap_in(new, folder)
    finally:
        if new.exists():
            shutil.rmtree(new, ignore_errors=True)
    return folder


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------
def _read_regular_file(path, limit, what, missing):
    """``os.lstat`` of ``path``: a regular file (not a link) inside its folder, at most ``limit`` bytes."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; {missing}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ValueError(f"{path}: is a symbolic link; a model folder must hold its own files, not links.")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: is not a regular file.")
    if limit is not None and info.st_size > limit:
        raise ValueError(f"{path}: {info.st_size} bytes; {what} may be at most {limit} bytes.")
    return info


def _read_manifest(folder):
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder (save_model writes a folder).")
    _read_regular_file(manifest_path, MAX_MANIFEST_BYTES, "a manifest",
                       f"{folder} is not a model folder written by sknoisy's save_model.")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(manifest_path, flags)
    except OSError as exc:
        raise ValueError(f"{manifest_path}: cannot be read ({exc.strerror}).") from None
    with os.fdopen(fd, "rb") as file:
        raw = file.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ValueError(f"{manifest_path}: larger than {MAX_MANIFEST_BYTES} bytes.")

    def refuse_constant(token):
        raise ValueError(f"{token} is not JSON")

    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{manifest_path}: not valid JSON ({_one_line(exc)}); the file is corrupt.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(
            f"{manifest_path}: not a sknoisy model manifest (expected \"format\": \"{_FORMAT}\")."
        )
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{manifest_path}: unknown model format version {str(version)[:40]!r}.")
    if version > FORMAT_VERSION:
        written_by = manifest.get("versions")
        written_by = written_by.get("sknoisy") if isinstance(written_by, dict) else None
        written_by = str(written_by)[:40] if written_by else "a newer sknoisy"
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
    >>> folder = save_model(clf, tempfile.mkdtemp() + "/model", metadata={"features": ["a", "b", "c"]})
    >>> read_metadata(folder)
    {'features': ['a', 'b', 'c']}
    """
    folder = Path(path)
    manifest = _read_manifest(folder)
    metadata = manifest.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"{folder / MANIFEST}: 'metadata' must be an object; the file is corrupt.")
    return metadata


def _read_weights(path):
    """The weights file's ``{name: state_dict}``, read without unpickling objects and without copying it into memory."""
    import torch

    info = _read_regular_file(path, None, "a weights file", "the model folder is incomplete.")
    try:
        with zipfile.ZipFile(path) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ValueError(f"{path}: not a weights file written by torch.save (torch's zip format); sknoisy never "
                         "opens other formats, such as a pickle.") from None
    if any(r.compress_type != zipfile.ZIP_STORED for r in records) or sum(r.file_size for r in records) > \
            info.st_size:
        raise ValueError(f"{path}: holds compressed or oversized records; torch.save writes neither.")
    index = [r for r in records if r.filename.endswith("/data.pkl")]
    if len(index) != 1 or index[0].file_size > _MAX_PICKLE_BYTES:
        raise ValueError(f"{path}: not a weights file written by torch.save (no single index of tensors of at "
                         f"most {_MAX_PICKLE_BYTES} bytes).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 -- torch raises several types for a bad file
        if "weights only" in str(exc).lower() or "unpickl" in type(exc).__name__.lower():
            problem = "it holds objects other than tensors and numbers, which sknoisy never unpickles"
        else:
            problem = f"{type(exc).__name__}: {_one_line(exc)}"
        raise ValueError(f"{path}: not a readable weights file ({problem}).") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: does not hold a state_dict of tensors.")
    return state


def _cloned(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _cloned(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cloned(v) for v in value)
    return value


def _check_state_dict(state, name, path):
    import torch

    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in state.items()):
        raise ValueError(f"{path}: {name} does not hold a state_dict of tensors.")


def _build(cls, module, params, fitted, device):
    estimator = cls(module, **params)
    if device is not None:
        estimator.set_params(device=device)
    for name, value in fitted.items():
        setattr(estimator, _ATTRIBUTE_NAMES.get(name, name), value)
    return estimator


def _fitted_name_ok(cls, name):
    if not (isinstance(name, str) and name.isidentifier() and name.endswith("_")) or name.startswith("_"):
        return False
    if name in _ATTRIBUTE_NAMES:
        return True
    # never a name skorch rebuilds, nor one the class defines (a method, a property)
    return name not in _REBUILT and name not in _ATTRIBUTE_NAMES.values() and not hasattr(cls, name)


def load_model(path, *, device=None, allowed_classes=()):
    """Load a classifier saved by :func:`save_model`, as data only.

    No code from the folder is run and nothing outside it is touched: see
    the module docstring (:mod:`sknoisy.persistence`) for what loading a
    folder can and cannot do.

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
        Fitted, with every saved network, criterion and optimizer state:
        ``predict`` and ``predict_proba`` give what the saved model gave,
        and ``partial_fit`` continues from there. Callbacks, iterators,
        datasets and ``train_split`` are the defaults;
        ``transition_matrix_estimator_`` is absent (see the module
        docstring).

    Raises
    ------
    ValueError
        One line naming the file and the problem: a file is missing,
        corrupt, a link or too large, the manifest was written in a newer
        format, sets a parameter that is not data or that sknoisy does not
        restore, names a class outside the allow-list, or the weights do
        not fit the networks it describes.

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
    decoder = _Decoder(allowed, where)

    cls = _resolve_class(manifest["estimator"], allowed, f"{where}: estimator", roots=("sknoisy",))
    if not issubclass(cls, NeuralNet):
        raise ValueError(f"{where}: {manifest['estimator']} is not a sknoisy classifier.")
    raw_params = dict(manifest["params"])
    if manifest["format_version"] == 1:
        # Format 1 wrote every parameter; those a folder never restores are dropped, as the defaults are safe.
        raw_params = {k: v for k, v in raw_params.items() if not (isinstance(k, str) and _never_restored(k))}
    params = decoder.params(cls, raw_params, where)
    module = params.pop("module", None)
    if module is None:
        raise ValueError(f"{where}: the parameter 'module' is missing; the file is corrupt.")

    fitted = {}
    for name, value in manifest["fitted"].items():
        if not _fitted_name_ok(cls, name):
            raise ValueError(f"{where}: {str(name)[:80]!r} is not a fitted attribute a manifest may set.")
        fitted[name] = decoder.value(value, name, classes=False)
    classes = fitted.get("classes_")
    if classes is not None and np.size(classes) > MAX_CLASSES:
        raise ValueError(f"{where}: classes_: {np.size(classes)} classes; sknoisy loads at most {MAX_CLASSES}.")
    history = manifest.get("history", [])
    if not isinstance(history, list) or not all(isinstance(epoch, dict) for epoch in history):
        raise ValueError(f"{where}: 'history' must be a list of objects; the file is corrupt.")
    history = [decoder.value(epoch, f"history[{i}]", classes=False) for i, epoch in enumerate(history)]
    for epoch in history:
        epoch["batches"] = []

    weights_name = manifest.get("weights", WEIGHTS)
    if not isinstance(weights_name, str) or weights_name in ("", ".", "..") or Path(weights_name).name != \
            weights_name or "\\" in weights_name or "\x00" in weights_name:
        raise ValueError(f"{where}: 'weights' must name a file inside the model folder, got {weights_name!r:.80}.")
    weights_path = folder / weights_name
    states = _read_weights(weights_path)
    if manifest["format_version"] == 1:
        states = {"module_": states}

    written_by = (manifest.get("versions") or {}).get("sknoisy", "?") if isinstance(manifest.get("versions"),
                                                                                    dict) else "?"
    # Built first on the meta device, which takes no memory: the sizes the
    # manifest implies are compared with the weights before anything is allocated.
    try:
        probe = _build(cls, module, params, fitted, "meta")
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            probe.initialize()
    except MemoryError:
        raise ValueError(f"{where}: the saved parameters describe a network too large to build.") from None
    except Exception as exc:  # noqa: BLE001 -- any failure here means the manifest does not describe a net
        raise ValueError(f"{where}: the saved parameters (written by sknoisy {str(written_by)[:40]}) do not "
                         f"build a {cls.__name__}: {_one_line(exc)}") from None
    expected = _state_names(probe)
    missing = [name for name in expected if name not in states]
    if manifest["format_version"] == 1:
        missing = [name for name in missing if name == "module_"]
    extra = [name for name in states if name not in expected]
    if missing or extra:
        problem = f"lacks {missing[0]}" if missing else f"holds {str(extra[0])[:60]!r}, which the net has not"
        raise ValueError(f"{weights_path}: {problem}; it does not belong to the manifest beside it.")
    optimizers = [name + "_" for name in probe._optimizers]
    for name in expected:
        if name not in states:
            continue
        if name in optimizers:
            if not (isinstance(states[name], dict) and set(states[name]) == {"state", "param_groups"}):
                raise ValueError(f"{weights_path}: {name} does not hold an optimizer's state_dict.")
            continue
        _check_state_dict(states[name], name, weights_path)
        shapes = {k: tuple(v.shape) for k, v in getattr(probe, name).state_dict().items()}
        saved = {k: tuple(v.shape) for k, v in states[name].items()}
        if shapes != saved:
            diff = sorted(set(shapes) ^ set(saved)) or [k for k in shapes if shapes[k] != saved[k]]
            key = diff[0]
            raise ValueError(
                f"{weights_path}: the weights do not fit the {name[:-1]} described in {MANIFEST} ({key!r}: "
                f"{saved.get(key, 'absent')} in the file, {shapes.get(key, 'absent')} in the manifest's network)."
            )
    del probe

    estimator = _build(cls, module, params, fitted, device)
    # Building the networks draws their initial weights, which are replaced
    # below; the caller's global torch RNG must not move for that.
    with torch.random.fork_rng(devices=[]):
        try:
            estimator.initialize()
        except Exception as exc:  # noqa: BLE001
            hint = ""
            if device is None and str(estimator.device).startswith("cuda"):
                hint = f" (it was saved with device={estimator.device!r}; load_model(..., device='cpu') loads it on the CPU)"
            raise ValueError(f"{where}: the saved parameters do not build a network{hint}: {_one_line(exc)}") from None
    from skorch.history import History

    estimator.history_ = History(history)
    for name in expected:
        if name not in states:
            continue
        # An optimizer keeps the tensors it is given (same dtype and device): copies, so that none
        # stays a view of the mapped file.
        state = _cloned(states[name]) if name in optimizers else states[name]
        try:
            getattr(estimator, name).load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{weights_path}: the state of {name} does not fit the net described in {MANIFEST}: "
                             f"{_one_line(exc)}") from None
    return estimator
