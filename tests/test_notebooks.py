"""Every notebook in nbs/ is one pytest item, executed by nbdev's own test runner.

Cells flagged with an entry of settings.ini's `tst_flags` (notest gpu slow pykeops) are
skipped unless the flag is listed in `NBDEV_FLAGS`; a failing cell fails the item.
"""
import os
from pathlib import Path

import pytest
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook  # renamed, or pytest would collect it

ROOT = Path(__file__).resolve().parents[1]
with working_directory(ROOT): CFG = get_config()
SKIP = CFG.tst_flags.split()
NBS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb')
             if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT / 'nbs').parts))


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(ROOT)
    ok, secs = run_notebook(nb, skip_flags=SKIP, force_flags=os.environ.get('NBDEV_FLAGS', '').split(),
                            basepath=ROOT)
    assert ok, f'{nb.name} failed: traceback above'
