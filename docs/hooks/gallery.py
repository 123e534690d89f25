"""mkdocs hook: the example gallery, run when the site builds.

Every `docs/gallery/*.py` is a standalone script (`python docs/gallery/NAME.py [OUT_DIR]` writes `OUT_DIR/NAME.png`)
with a `main(out_dir) -> Path` that runs real, tiny simulations and draws one figure. The hook runs each `main` in
this process (the imports are shared, which keeps the build short), puts the figure in the site, and writes the
script's page: its docstring (the first line the title, the rest the text), the figure, and the script's code. The
gallery's index shows every figure. A script that fails fails the build; nothing is cached between builds. The
reference hook (listed first in mkdocs.yml) has already put this checkout first on sys.path.
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
import runpy
import tempfile
import time
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"

log = logging.getLogger("mkdocs.plugins.racksim.gallery")


def scripts() -> list[Path]:
    """The gallery's scripts, in name order."""
    return sorted(GALLERY.glob("[!_]*.py"))


def title_and_text(script: Path) -> tuple[str, str]:
    """A script's docstring: first line (the title) and the rest (the page's text, Markdown)."""
    docstring = ast.get_docstring(ast.parse(script.read_text())) or ""
    if not docstring:
        raise ValueError(f"{script}: a gallery script needs a docstring (its title and text)")
    title, _, text = docstring.partition("\n")
    return title.strip().rstrip("."), text.strip()


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Replace the nav's `Gallery` entry by the index and a page per script."""
    pages = [{title_and_text(script)[0]: f"gallery/{script.stem}.md"} for script in scripts()]
    nav = config.nav or []
    for index, entry in enumerate(nav):
        if isinstance(entry, dict) and "Gallery" in entry:
            nav[index] = {"Gallery": ["gallery/index.md", *pages]}
    return config


def run(script: Path, out_dir: Path) -> bytes:
    """Run one script's `main` in this process; the PNG it wrote."""
    namespace = runpy.run_path(str(script), run_name="racksim_gallery")
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # the runs' progress bars; an error still raises
        figure = namespace["main"](out_dir)
    log.info("gallery: %s ran in %.1f s", script.name, time.perf_counter() - started)
    return Path(figure).read_bytes()


def page(script: Path) -> str:
    """The Markdown page of one script: text, figure, the source."""
    title, text = title_and_text(script)
    lines = script.read_text().splitlines(keepends=True)
    source = "".join(lines[ast.parse("".join(lines)).body[0].end_lineno or 0:]).lstrip("\n")  # the docstring is above
    return (f"# {title}\n\n{text}\n\n![{title}]({script.stem}.png)\n\n"
            f"Run it yourself: `python docs/gallery/{script.name} [OUT_DIR]` (from a clone, in the project's venv) "
            f"writes `OUT_DIR/{script.stem}.png`; download [{script.name}]({script.name}).\n\n"
            f"```python\n{source}```\n")


def index(entries: list[tuple[Path, str]]) -> str:
    """The gallery's index: every figure, linking to its page."""
    lines = ["# Gallery", "",
             "Short scripts that run real racksim simulations, each drawing one figure. They run every time the "
             "documentation builds (`make docs`), with durations kept to seconds of CPU time, so every figure here "
             "comes from the code as it is. Each page has the script; change its constants (designs, durations, "
             "temperatures) and run it yourself.", ""]
    for script, title in entries:
        lines.extend([f"## [{title}]({script.stem}.md)", "", f"[![{title}]({script.stem}.png)]({script.stem}.md)",
                      ""])
    return "\n".join(lines)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Run every script and add its figure and page, and the index."""
    import matplotlib

    matplotlib.use("Agg")
    entries = []
    with tempfile.TemporaryDirectory(prefix="racksim-gallery-") as out:
        for script in scripts():
            png = run(script, Path(out))
            files.append(File.generated(config, f"gallery/{script.stem}.png", content=png))
            files.append(File.generated(config, f"gallery/{script.stem}.md", content=page(script)))
            entries.append((script, title_and_text(script)[0]))
    files.append(File.generated(config, "gallery/index.md", content=index(entries)))
    return files
