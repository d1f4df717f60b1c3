"""The gallery scripts behind the experiments, read from ../shared/seeds at test time.

They are POT's and GeomLoss's code, so this repo keeps no copy: a test that runs a seed script
on otbook extracts its code blocks from the sphinx-gallery page and skips, saying why, where
the pages are not beside the repo.
"""
import re
import textwrap
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / 'shared' / 'seeds'


def needs_seed(name: str):
    "Skip unless the gallery page `name`.rst is in ../shared/seeds"
    return pytest.mark.skipif(not (SEEDS / f'{name}.rst').exists(), reason=f'{SEEDS}/{name}.rst not found')


def seed_blocks(name: str) -> list:
    "The Python code blocks of a sphinx-gallery page, in order, dedented"
    lines, blocks, block = (SEEDS / f'{name}.rst').read_text().splitlines(), [], None
    for line in lines + ['.. end']:
        if block is not None:
            if line.strip() and not line.startswith(' '):
                blocks.append(textwrap.dedent('\n'.join(block)).strip() + '\n')
                block = None
            else:
                block.append(line)
        if re.match(r'\.\. code-block:: [Pp]ython\s*$', line): block = []
    return blocks


def on_otbook(code: str) -> str:
    "A POT script with its imports changed, and only those: `import ot` becomes `import otbook as ot`"
    out = re.sub(r'^import ot$', 'import otbook as ot', code, flags=re.M)
    return re.sub(r'^import ot\.(\w+)$', r'import otbook.\1', out, flags=re.M)
