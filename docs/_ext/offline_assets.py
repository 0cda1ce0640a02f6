"""The site works offline: MathJax is bundled into it, and no page may load anything remote.

MathJax 3 comes from its npm package, downloaded once per checkout into
``docs/_build/.cache`` (or read from the tarball named by ``MLP_XP_MATHJAX_TGZ``)
and checked against the integrity hash the npm registry publishes for it.  Its
SVG component (``tex-svg.js``) is used: it carries its fonts as path data, so a
page needs no web fonts and renders the same from ``file://`` as from a server.
The component and the parts it loads on demand (TeX extensions, the menu,
accessibility) are copied into ``_static/mathjax/``.

When the HTML build has finished, every page and style sheet is scanned for a
script, style sheet, font, image or frame loaded from another host; any such
load is a build error.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tarfile
import urllib.request
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

MATHJAX_VERSION = "3.2.2"
MATHJAX_URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{MATHJAX_VERSION}.tgz"
# npm's "integrity" of that tarball: `npm view mathjax@3.2.2 dist.integrity`.
MATHJAX_SHA512 = "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
COMPONENT = "tex-svg.js"
# What tex-svg.js loads: itself, then on demand TeX packages, the menu and accessibility.
PARTS = (f"es5/{COMPONENT}", "es5/input/", "es5/ui/", "es5/a11y/", "es5/sre/", "es5/adaptors/")

REMOTE = r"""(?:https?:)?//"""
REMOTE_LOADS = {
    "html": re.compile(
        rf"""<(?:script|img|iframe|source|video|audio|embed)\b[^>]*?\ssrc=["']{REMOTE}"""
        rf"""|<link\b(?=[^>]*\srel=["'](?:stylesheet|preload|modulepreload|icon|prefetch|preconnect))"""
        rf"""[^>]*?\shref=["']{REMOTE}""",
        re.IGNORECASE,
    ),
    "css": re.compile(rf"""url\(\s*["']?{REMOTE}|@import\s+["']{REMOTE}""", re.IGNORECASE),
}


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", _use_bundled_mathjax)
    app.connect("build-finished", _refuse_remote_loads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _staging(confdir: str | Path) -> Path:
    """The folder copied into ``_static``: it holds ``mathjax/``."""
    return Path(confdir) / "_build" / ".cache" / f"mathjax-{MATHJAX_VERSION}-static"


def _use_bundled_mathjax(app: Sphinx, config: Config) -> None:
    _stage_mathjax(app.confdir)
    config.mathjax_path = f"mathjax/{COMPONENT}"  # relative: under _static
    config.html_static_path = [*config.html_static_path, str(_staging(app.confdir))]


def _stage_mathjax(confdir: str | Path) -> None:
    """Put MathJax's files in the staging folder, once per checkout."""
    target = _staging(confdir) / "mathjax"
    if (target / COMPONENT).is_file():
        return
    tarball = _tarball(Path(confdir) / "_build" / ".cache")
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and name.startswith(PARTS):
                destination = target / name.removeprefix("es5/")
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.extractfile(member).read())


def _tarball(cache: Path) -> Path:
    """MathJax's npm tarball, downloaded if absent, verified in any case."""
    given = os.environ.get("MLP_XP_MATHJAX_TGZ")
    path = Path(given) if given else cache / f"mathjax-{MATHJAX_VERSION}.tgz"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(MATHJAX_URL, timeout=120) as response:
            data = response.read()
        _verify(data, MATHJAX_URL)
        path.write_bytes(data)
    _verify(path.read_bytes(), str(path))
    return path


def _verify(data: bytes, source: str) -> None:
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != MATHJAX_SHA512:
        raise ExtensionError(
            f"{source} is not MathJax {MATHJAX_VERSION}'s npm tarball: its sha512 is {digest}, "
            f"expected {MATHJAX_SHA512}"
        )


def _refuse_remote_loads(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    found = []
    for kind, pattern in REMOTE_LOADS.items():
        for path in sorted(Path(app.outdir).rglob(f"*.{kind}")):
            for match in pattern.finditer(path.read_text(encoding="utf-8", errors="replace")):
                found.append(f"{path.relative_to(app.outdir)}: {match.group(0)[:120]}")
    if found:
        raise ExtensionError(
            "the site must work offline, but pages load remote resources:\n  " + "\n  ".join(found[:20])
        )
