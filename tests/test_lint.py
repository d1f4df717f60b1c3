"""Lint the exported library and the tools with ruff: pyflakes rules (F: undefined names, unused
imports, ...) and syntax errors (E9). A name that only a test-only import defines (the `scipy` of
`emd_1d`, issue 15) fails here, whatever the notebooks happen to import."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# otbook/__init__.py is hand-written: its imports are the public re-exports (`import otbook as ot`)
RUFF = [sys.executable, '-m', 'ruff', 'check', '--no-cache', '--select', 'F,E9', '--per-file-ignores',
        '__init__.py:F401', '--output-format', 'concise', 'otbook', 'tools']


def test_ruff_is_clean():
    try: import ruff  # noqa: F401  (a dev requirement, in settings.ini)
    except ImportError: raise AssertionError("ruff is not installed: pip install -e '.[dev]'") from None
    out = subprocess.run(RUFF, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"ruff check found problems:\n{out.stdout}{out.stderr}"
