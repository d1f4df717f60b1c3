"""Saved notebook outputs read as text: no control characters, no progress bars saved as one garbled line."""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith('_'))
CONTROL = re.compile(r'[\x00-\x08\x0b-\x1f\x7f]')  # everything but tab and newline: \r, ANSI escapes, backspace
TQDM = re.compile(r'\d+%\|[^|\n]*\|.*\d+/\d+.*\n?.*\d+%\|')  # two bars on one line: \r-joined updates


def texts(nb: Path):
    "(cell number, text) of every text output of a notebook"
    for i, c in enumerate(json.loads(nb.read_text())['cells']):
        for o in c.get('outputs', []):
            t = o.get('text') or o.get('data', {}).get('text/plain') or ''
            yield i, ''.join(t)


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_saved_outputs_are_clean_text(nb):
    bad = [(i, repr(t[:120])) for i, t in texts(nb) if CONTROL.search(t) or any(TQDM.search(l) for l in t.splitlines())]
    assert not bad, f'{nb.name}: outputs with control characters or garbled progress bars (cell, text): {bad[:3]}'


def test_the_check_catches_a_saved_tqdm_bar():
    bar = ' 10%|█         | 1/10 [00:00<00:01]\r 20%|██        | 2/10 [00:00<00:01]'
    assert CONTROL.search(bar)
