"""``sknoisy predict``: predict new rows with a model saved by ``sknoisy fit``."""

import csv

import numpy as np

from ._errors import InputError, one_line, os_error_text
from ._inputs import check_output_file, check_spec, read_new
from ._options import add_command, check_device_option, int_at_least, torch_threads
from ._training import apply_scaler, check_scaler
from .fit import METADATA_KEY

__all__ = ["NAME", "register", "run", "read_model"]

NAME = "predict"


def register(commands):
    parser = add_command(
        commands,
        NAME,
        run,
        help="predict new rows with a model saved by 'sknoisy fit'",
        description="Read a model folder written by 'sknoisy fit' and write, for each row of NEW_DATA, the "
        "predicted label and one probability column per class (proba_<class>, the probabilities of the "
        "true classes). NEW_DATA must have the feature columns the model was trained on (any order; its "
        "label, trusted and id columns are ignored), or for an .npz model an array X of the same shape.",
    )
    parser.add_argument("model", metavar="MODEL", help="the folder written by 'sknoisy fit -o MODEL'")
    parser.add_argument("data", metavar="NEW_DATA", help="a CSV file (or .npz file with an array X) to predict")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="the predictions file to write")
    parser.add_argument(
        "--id-column", metavar="COLUMN", help="copy this column (for .npz, this array) to the first output column"
    )
    parser.add_argument("--device", default="cpu", help="PyTorch device: cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int_at_least(1), default=1, help="PyTorch CPU threads")
    parser.add_argument("--force", action="store_true", help="overwrite OUT.csv if it exists")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")


def read_model(path, device):
    """``(estimator, description)`` of a model folder written by ``sknoisy fit``; one clear line otherwise."""
    from ..persistence import load_model, read_metadata

    where = f"model folder {path!r}"
    try:
        metadata = read_metadata(path)
    except ValueError as exc:
        raise InputError(f"{where}: {one_line(exc)}") from exc
    description = metadata.get(METADATA_KEY)
    if not isinstance(description, dict):
        raise InputError(
            f"{where} was not written by 'sknoisy fit' (it does not say which columns and scaling its "
            "inputs had); load it in Python with sknoisy.load_model instead"
        )
    spec = check_spec(description.get("input"), where)
    if not check_scaler(description.get("scaler"), spec["input_shape"]):
        raise InputError(f"{where}: the scaling of its inputs is missing or damaged")
    try:
        estimator = load_model(path, device=device)
    except ValueError as exc:
        raise InputError(f"{where}: {one_line(exc)}") from exc
    if tuple(getattr(estimator, "input_shape_", ())) != tuple(spec["input_shape"]):
        raise InputError(f"{where}: its network and the description of its input disagree; the folder is damaged")
    return estimator, description


def run(args):
    check_device_option(args.device)
    output = check_output_file(args.output, [args.data, args.model], args.force)
    estimator, description = read_model(args.model, args.device)
    spec = description["input"]
    data = read_new(args.data, spec, id_column=args.id_column)
    X = apply_scaler(data.X, description["scaler"])
    with torch_threads(args.threads):
        proba = estimator.predict_proba(X)
    classes = estimator.classes_
    predicted = classes[np.argmax(proba, axis=1)]

    header = ([args.id_column] if args.id_column else []) + ["prediction"] + [f"proba_{c}" for c in classes]
    try:
        with open(output, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for i in range(len(X)):
                # str of a numpy float is its shortest exact spelling: the file holds the model's numbers
                row = [str(p) for p in proba[i]]
                writer.writerow(([data.ids[i]] if data.ids is not None else []) + [str(predicted[i])] + row)
    except OSError as exc:
        raise InputError(f"-o: cannot write {args.output!r}: {os_error_text(exc)}") from None
    if not args.quiet:
        counts = ", ".join(f"{c}: {n}" for c, n in zip(classes, np.bincount(np.argmax(proba, axis=1),
                                                                             minlength=len(classes))))
        print(f"wrote {args.output}: {len(X)} predictions by {description.get('method', '?')} ({counts})")
    return 0
