"""Tampered model folders: each is refused in one line or loads harmlessly.

The folders are built here; a child process with a capped address space
loads each one (and predicts and trains one more epoch with those that
load), while it watches for code run from the folder (marker folders a
payload would create), files or folders created anywhere under the test's
root, and processes started.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch

from sknoisy import ForwardCorrectedClassifier
from sknoisy.modules import MLP
from sknoisy.persistence import MAX_MANIFEST_BYTES, save_model

# The child reads /proc and caps its address space with resource.setrlimit; FIFOs and links are POSIX.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the battery's watch needs Linux")

T3 = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
CHECKPOINT = "skorch.callbacks.Checkpoint"


class Payload:
    """Unpickling it creates a folder: what a weights file that runs code would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


# --------------------------------------------------------------------------
# the tampering, one function a case: (folder, root) -> None
# --------------------------------------------------------------------------
def manifest_edit(edit):
    def tamper(folder, root):
        path = folder / "manifest.json"
        manifest = json.loads(path.read_text())
        edit(manifest, root)
        path.write_text(json.dumps(manifest))

    return tamper


def params(**values):
    return manifest_edit(lambda m, root: m["params"].update(
        {k: (v(root) if callable(v) else v) for k, v in values.items()}))


def fitted(**values):
    return manifest_edit(lambda m, root: m["fitted"].update(values))


def checkpoint(root):
    return [["cp", {"__object__": CHECKPOINT, "params": {
        "dirname": str(root / "outside" / "made-by-load"), "load_best": True, "f_pickle": "payload.pkl"}}]]


def format_1(**values):
    """A manifest as format 1 wrote it (every parameter, the module's weights only), with ``values`` set."""
    def edit(m, root):
        m["format_version"] = 1
        m["params"].update({k: (v(root) if callable(v) else v) for k, v in values.items()})

    def tamper(folder, root):
        manifest_edit(edit)(folder, root)
        torch.save(torch.load(folder / "weights.pt", weights_only=True)["module_"], folder / "weights.pt")
    return tamper


def array(data, dtype, shape):
    return {"__ndarray__": data, "dtype": dtype, "shape": shape}


def weights(write):
    def tamper(folder, root):
        write(folder / "weights.pt", root)
    return tamper


def pickle_payload(path, root):
    path.write_bytes(pickle.dumps({"module_": Payload(str(root / "marker-pickle"))}))


def zip_payload(path, root):
    torch.save({"module_": {"w": Payload(str(root / "marker-zip"))}}, path)


def legacy_format(path, root):
    state = torch.load(path, weights_only=True)
    torch.save(state, path, _use_new_zipfile_serialization=False)


def compressed(path, root):
    with zipfile.ZipFile(path) as source:
        records = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in records:
            target.writestr(name, data)


def extra_state(path, root):
    state = torch.load(path, weights_only=True)
    state["module2_"] = {"w": torch.zeros(2)}
    torch.save(state, path)


def big_criterion(path, root):
    state = torch.load(path, weights_only=True)
    state["criterion_"] = {k: torch.zeros(50, 50) for k in state["criterion_"]}
    torch.save(state, path)


def symlinked(name):
    def tamper(folder, root):
        elsewhere = root / "outside" / f"real-{name}"
        elsewhere.parent.mkdir(exist_ok=True)
        shutil.copy(folder / name, elsewhere)
        (folder / name).unlink()
        (folder / name).symlink_to(elsewhere)
    return tamper


def fifo_manifest(folder, root):
    (folder / "manifest.json").unlink()
    os.mkfifo(folder / "manifest.json")


def huge_manifest(folder, root):
    with open(folder / "manifest.json", "wb") as file:
        file.truncate(MAX_MANIFEST_BYTES + 1)  # sparse: costs no disk


def raw_manifest(text):
    def tamper(folder, root):
        (folder / "manifest.json").write_text(text(folder) if callable(text) else text)
    return tamper


def deep_json(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    text = json.dumps(manifest)
    return text.replace('"verbose": 0', '"verbose": ' + "[" * 100000 + "]" * 100000)


def nan_token(folder):
    return (folder / "manifest.json").read_text().replace('"verbose": 0', '"verbose": NaN')


def long_integer(folder):
    return (folder / "manifest.json").read_text().replace('"verbose": 0', '"verbose": ' + "9" * 100000)


def weights_name(name):
    return manifest_edit(lambda m, root: m.update(weights=name))


MLP_CLASS = {"__class__": "sknoisy.modules.MLP"}
TME = "sknoisy.TransitionMatrixEstimator"

#: name -> (tampering, "refused" or "loaded")
CASES = {
    # the attacks of the audit
    "torch_load_kwargs weights_only false": (params(torch_load_kwargs={"weights_only": False}), "refused"),
    "Checkpoint callback, load_best, dirname outside": (params(callbacks=checkpoint), "refused"),
    "Checkpoint + torch_load_kwargs in a format-1 manifest": (
        format_1(callbacks=checkpoint, torch_load_kwargs={"weights_only": False}), "loaded"),
    "iterator_valid__num_workers": (params(iterator_valid__num_workers=2), "refused"),
    "iterator_valid__worker_init_fn": (params(iterator_valid__worker_init_fn={"__function__": "builtins.print"}),
                                       "refused"),
    "iterator_train__num_workers in a format-1 manifest": (
        format_1(iterator_train__num_workers=2, iterator_valid__num_workers=2), "loaded"),
    "iterator_valid class": (params(iterator_valid={"__class__": "torch.utils.data.DataLoader"}), "refused"),
    "dataset class": (params(dataset={"__class__": "skorch.dataset.Dataset"}), "refused"),
    "train_split object": (params(train_split={"__object__": "skorch.dataset.ValidSplit", "params": {"cv": 5}}),
                           "refused"),
    "predict_nonlinearity function": (params(predict_nonlinearity={"__function__": "builtins.eval"}), "refused"),
    "compile": (params(compile=True), "refused"),
    "unknown parameter": (params(evil=1), "refused"),
    "60-byte array of dtype <U500000000": (fitted(classes_=array(["a"], "<U500000000", [1])), "refused"),
    "<U500000000 in a parameter": (params(transition_matrix=array(["a"], "<U500000000", [1])), "refused"),
    "array shape asking for 10^18 floats": (params(transition_matrix=array([], "<f8", [10**9, 10**9])), "refused"),
    "array shape and values disagree": (params(transition_matrix=array([[1.0]], "<f8", [3, 3])), "refused"),
    "array of dtype void": (fitted(classes_=array([1], "|V8", [1])), "refused"),
    "array of dtype datetime": (fitted(classes_=array([1], "<M8[s]", [1])), "refused"),
    "array of dtype complex256-like": (fitted(classes_=array([1], "<c32", [1])), "refused"),
    "array with a structured dtype": (fitted(classes_=array([1], "[('a', '<f8')]", [1])), "refused"),
    "100000 classes": (fitted(classes_=array(list(range(100000)), "<i8", [100000])), "refused"),
    "huge input_shape_": (fitted(input_shape_={"__tuple__": [10**6, 10**6]}), "refused"),
    "module of 10^18 weights": (params(module__hidden_units={"__tuple__": [10**9, 10**9]}), "refused"),
    "hidden_units of 5000 layers": (params(module__hidden_units={"__tuple__": [8] * 5000}), "refused"),
    "a string of 100000 characters": (params(criterion__reduction="x" * 100000), "refused"),
    "module subprocess.Popen": (params(module={"__class__": "subprocess.Popen"}), "refused"),
    "module os.system": (params(module={"__class__": "os.system"}), "refused"),
    "optimizer that is a module class": (params(optimizer={"__class__": "torch.nn.Linear"}), "refused"),
    "pathlib.Path through sknoisy.persistence": (params(module={"__class__": "sknoisy.persistence.Path"}),
                                                 "refused"),
    "Checkpoint as transition_matrix": (params(transition_matrix={"__object__": CHECKPOINT, "params": {}}),
                                        "refused"),
    "estimator with n_jobs": (params(transition_matrix={"__object__": TME, "params": {"n_jobs": 4}}), "refused"),
    "nested net with worker processes": (params(transition_matrix={"__object__": TME, "params": {
        "estimator": {"__object__": "sknoisy.CrossEntropyClassifier",
                      "params": {"module": MLP_CLASS, "iterator_train__num_workers": 4}}}}), "refused"),
    "random_state as a numpy RandomState": (params(random_state={"__object__": "numpy.random.RandomState",
                                                                 "params": {}}), "refused"),
    "verbose names builtins.print": (params(verbose={"__function__": "builtins.print"}), "refused"),
    "estimator outside sknoisy": (manifest_edit(lambda m, r: m.update(estimator="skorch.NeuralNetClassifier")),
                                  "refused"),
    "estimator that is a module": (manifest_edit(lambda m, r: m.update(estimator="sknoisy.modules.MLP")), "refused"),
    "fitted history_": (fitted(history_=[]), "refused"),
    "fitted callbacks_": (fitted(callbacks_=[]), "refused"),
    "fitted __class__": (fitted(__class__="x"), "refused"),
    "fitted name of a method": (fitted(predict_proba_="x"), "loaded"),
    "fitted value that is a class": (fitted(n_features_in_={"__class__": "torch.nn.Linear"}), "refused"),
    "history with an object": (manifest_edit(lambda m, r: m.update(history=[{"epoch": {"__object__": TME}}])),
                               "refused"),
    "format version from the future": (manifest_edit(lambda m, r: m.update(format_version=99)), "refused"),
    "manifest larger than the limit": (huge_manifest, "refused"),
    "manifest is a FIFO": (fifo_manifest, "refused"),
    "manifest nested 100000 deep": (raw_manifest(deep_json), "refused"),
    "NaN token in the manifest": (raw_manifest(nan_token), "refused"),
    "integer of 100000 digits": (raw_manifest(long_integer), "refused"),
    "manifest is a symlink": (symlinked("manifest.json"), "refused"),
    "weights is a symlink to a file elsewhere": (symlinked("weights.pt"), "refused"),
    "weights named ../": (weights_name("../weights.pt"), "refused"),
    "weights named by an absolute path": (weights_name("/etc/passwd"), "refused"),
    "weights file is a pickle with code": (weights(pickle_payload), "refused"),
    "weights zip holding an object with code": (weights(zip_payload), "refused"),
    "weights in torch's legacy format": (weights(legacy_format), "refused"),
    "weights zip with compressed records": (weights(compressed), "refused"),
    "weights of another net (extra state)": (weights(extra_state), "refused"),
    "criterion state of the wrong size": (weights(big_criterion), "refused"),
}

CHILD = textwrap.dedent(
    """
    import json, multiprocessing.process, os, resource, subprocess, sys, warnings
    import numpy as np
    import sknoisy
    from sknoisy.persistence import load_model

    cases, root, X, y = json.loads(sys.stdin.read())
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    started = []

    def refuse(what):
        def blocked(*args, **kwargs):
            started.append(what)
            raise RuntimeError(f"{what} is blocked in this test")
        return blocked

    subprocess.Popen.__init__ = refuse("subprocess")
    os.system = refuse("os.system")
    os.fork = refuse("os.fork")
    os.posix_spawn = refuse("os.posix_spawn")
    multiprocessing.process.BaseProcess.start = refuse("multiprocessing")

    def tree():
        return sorted(os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files)

    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize")) * 1024
    cap = vm + 2 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    results = {}
    for name, folder in cases:
        before = tree()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = load_model(folder)
                net.predict(X)
                net.set_params(max_epochs=1).partial_fit(X, y)
            outcome, message = "loaded", ""
        except ValueError as exc:
            outcome, message = "refused", str(exc)
        except MemoryError:
            outcome, message = "memory", ""
        except Exception as exc:
            outcome, message = "crash", f"{type(exc).__name__}: {exc}"
        results[name] = {"outcome": outcome, "message": message, "created": sorted(set(tree()) - set(before)),
                         "started": list(started)}
        started.clear()
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    root = tmp_path_factory.mktemp("tampered")
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype(np.float32)
    y = np.array(["a", "b", "c"])[rng.randint(0, 3, 60)]
    clf = ForwardCorrectedClassifier(MLP, transition_matrix=T3, module__hidden_units=(8,), max_epochs=2,
                                     random_state=0).fit(X, y)
    original = save_model(clf, root / "original")
    (root / "outside").mkdir()
    cases = []
    for i, (name, (tamper, _)) in enumerate(CASES.items()):
        folder = root / f"case{i:02d}"
        shutil.copytree(original, folder)
        tamper(folder, root)
        cases.append((name, str(folder)))
    payload = json.dumps([cases, str(root), X.tolist(), y.tolist()])
    child = subprocess.run([sys.executable, "-c", CHILD], input=payload, capture_output=True, text=True,
                           timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == 0, child.stderr[-3000:]
    return root, json.loads(child.stdout.strip().splitlines()[-1])


def test_there_are_at_least_30_tampered_folders():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", list(CASES))
def test_a_tampered_folder_is_refused_in_one_line_or_loads_harmlessly(name, battery):
    root, results = battery
    result = results[name]
    assert result["outcome"] == CASES[name][1], result
    assert result["created"] == [], "the load created files or folders"
    assert result["started"] == [], "the load started a process"
    assert not any(root.glob("marker-*")), "code from the folder ran"
    assert not (root / "outside" / "made-by-load").exists()
    if result["outcome"] == "refused":
        message = result["message"]
        assert "\n" not in message and message.strip() == message
        assert "case" in message and ("manifest.json" in message or "weights.pt" in message), message
