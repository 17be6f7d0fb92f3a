"""Sphinx configuration of sknoisy's documentation.

Build it from the root of a checkout (offline, warnings as errors)::

    pip install -c constraints.txt -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

The API reference, the command-line page and the benchmark pages are
generated from the package and from ``benchmarks/results/`` by
``docs/_ext/sknoisy_docs.py``; the gallery runs ``examples/plot_*.py``.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the checkout this file belongs to, whatever else is installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

# The gallery runs the examples at full size (about 3 minutes on 2 cores); SKNOISY_EXAMPLE_QUICK=1 in the
# environment runs their quick mode instead (seconds, with figures of tiny data), for a fast local build.

import sknoisy  # noqa: E402

project = "sknoisy"
author = "the sknoisy developers"
copyright = "the sknoisy developers"
version = release = sknoisy.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
    "sknoisy_docs",
]
# No intersphinx: it downloads the other projects' inventories, and the build must work offline.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "_ext", "**/sg_execution_times.rst"]
default_role = "literal"  # `x` in a docstring reads as code, never as a broken cross-reference
smartquotes = False  # "--method" stays two hyphens, as the command line needs

# --- autodoc / autosummary / numpydoc ---------------------------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = True
# What a class page leaves out: the members skorch, scikit-learn, torch and Python define (their own
# documentation covers them); sknoisy's own methods, inherited from a sknoisy base or not, are shown.
autosummary_context = {
    "inherited_from_elsewhere": ", ".join(
        [
            "NeuralNetClassifier", "NeuralNet", "BaseEstimator", "ClassifierMixin", "TransformerMixin",
            "MetaEstimatorMixin", "Module", "Callback", "BaseCrossValidator", "BaseShuffleSplit", "KFold",
            "StratifiedKFold", "ValidSplit", "_MetadataRequester", "_SetOutputMixin", "Exception", "Warning", "UserWarning", "RuntimeWarning", "tuple",
            "object",
        ]
    )
}
autodoc_member_order = "groupwise"
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

# --- sphinx-gallery --------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "sknoisy_docs.ExampleOrder",
    "doc_module": ("sknoisy",),
    "backreferences_dir": "api/generated/backreferences",
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "write_computation_times": False,
}

# --- matplotlib's plot directive (the figures of the user guide) --------------------------------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

# --- MyST (the benchmark pages are the scripts' markdown files) -----------------------------------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# --- HTML ----------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sknoisy {release}"
html_static_path = ["_static"]
html_css_files = ["sknoisy.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    # API pages have one heading, examples long code and benchmark pages wide tables: they get the width
    "secondary_sidebar_items": {
        "index": ["page-toc"],
        "scaling": ["page-toc"],
        "user_guide/*": ["page-toc"],
        "api/*": ["page-toc"],
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "user_guide/index": []}
