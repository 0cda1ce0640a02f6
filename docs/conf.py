"""Sphinx configuration of the mlp_xp site: ``python3 -m nox -s docs``, then open
``docs/_build/html/index.html``.

Prose pages are MyST markdown, the API reference is generated from the numpydoc
docstrings (validated during the build), the gallery in ``examples/`` is
executed by sphinx-gallery, and the benchmark pages are generated from
``benchmarks/results/*.json``.  Everything a page loads, MathJax included, is
bundled in the built site (``_ext/offline_assets.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]
# The gallery's matrix products are small: one BLAS thread runs them fastest, and
# keeps the examples' run times independent of other work on the machine.
for threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(threads, "1")

import mlp_xp  # noqa: E402  (after the checkout is on the path)

project = "mlp_xp"
author = "the mlp_xp authors"
copyright = "mlp_xp authors"
version = release = mlp_xp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "offline_assets",
    "benchmark_pages",
    "live_tables",
    "api_members",
    "unicode_docstrings",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**/GALLERY_HEADER.rst", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
nitpicky = True  # a reference that does not resolve is an error (the build runs with -W)
add_function_parentheses = False

# Prose: MyST with $...$ and $$...$$ math.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: one page per public name, from the numpydoc docstrings.
autosummary_generate = True
autodoc_typehints = "none"  # the docstrings give the types; annotations would be unresolvable refs
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True
# numpydoc's validation runs on every documented object; a failure is a build error.
# Left out, as the project's docstring style does: examples and "see also" (the
# gallery and the user guide give them), extended summaries, every parameter and
# return value documented (short methods say them in the summary), summaries
# written as one imperative line starting with a capital (seed formulas start
# with Greek letters), and the closing quotes' line.
# The public data names have no docstrings of their own: their pages are written by
# the mlp-xp-data directive (_ext/live_tables.py).
numpydoc_validation_exclude = {r"^mlp_xp\.(ACTIVATIONS|COSTS|OPTIMIZERS|__version__)$"}
numpydoc_validation_checks = {
    "all",
    "EX01",
    "SA01",
    "ES01",
    "PR01",
    "RT01",
    "SS02",
    "SS05",
    "SS06",
    "GL02",
    "PR08",
    "RT04",
}

# The gallery: examples/plot_*.py, executed at every build; their figures come from their code.
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.LessonOrder",
    "doc_module": ("mlp_xp",),
    "backreferences_dir": "api/generated/backreferences",
    "reference_url": {"mlp_xp": None},
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
    "download_all_examples": False,
    "matplotlib_animations": False,
    # Its page loads a table script from a CDN; the times are in the build's log.
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = "mlp_xp"
html_static_path = ["_static"]
html_css_files = ["mlp_xp.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    # The page's table of contents beside the API reference only: the guide's tables,
    # the math page's formulas beside code and the gallery's figures take its width.
    "secondary_sidebar_items": {"api/**": ["page-toc"]},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "math": [], "testing": []}
