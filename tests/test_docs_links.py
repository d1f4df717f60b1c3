"""Every internal link and anchor of docs/ resolves, no markdown is left unrendered, every figure has its caption
once, folded cells are folded (static, no browser)."""
import importlib.util, json, re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / 'docs'
PAGES = sorted(p.name for p in DOCS.glob('*.html'))
EXTERNAL = re.compile(r'^(https?:|mailto:|data:|javascript:)')
RAW_LINK = re.compile(r'\[[^\]\n]+\]\([^)\s]+\)')


class Links(HTMLParser):
    "A page's ids, the links and resources it points to, and its prose text (outside code and math)"
    SKIP = {'code', 'pre', 'script', 'style', 'math'}

    def __init__(self):
        super().__init__()
        self.ids, self.refs, self.prose, self._skip = set(), [], [], 0
        self.alts, self.captions, self.details, self._in = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        for key in ('href', 'src'):
            if a.get(key) and not (tag == 'link' and a.get('rel') == 'preconnect'): self.refs.append(a[key])
        if tag in self.SKIP: self._skip += 1
        if tag == 'img' and a.get('src', '').startswith('data:image/png'): self.alts.append(a.get('alt') or '')
        if tag == 'figcaption': self.captions.append('')
        if tag == 'details': self.details.append('open' in a)
        self._in.append(tag)

    def handle_endtag(self, tag):
        if tag in self.SKIP: self._skip -= 1
        while self._in and self._in.pop() != tag: pass

    def handle_data(self, data):
        if not self._skip: self.prose.append(data)
        if 'figcaption' in self._in and not self._skip: self.captions[-1] += data + ' '


@cache
def parse(page: str) -> Links:
    p = Links()
    p.feed((DOCS / page).read_text())
    return p


def test_there_are_pages():
    assert 'index.html' in PAGES and 'api.html' in PAGES


@pytest.mark.parametrize('page', PAGES)
def test_internal_links_and_anchors_resolve(page):
    bad = []
    for ref in parse(page).refs:
        if EXTERNAL.match(ref): continue
        path, _, anchor = ref.partition('#')
        target = page if path == '' else path
        if not (DOCS / target).exists(): bad.append(f'{ref}: no file {target}')
        elif anchor and target.endswith('.html') and anchor not in parse(target).ids:
            bad.append(f'{ref}: no id {anchor!r} in {target}')
    assert not bad, f'{page}: ' + '; '.join(bad)


@pytest.mark.parametrize('page', PAGES)
def test_no_markdown_left_unrendered(page):
    raw = RAW_LINK.findall(' '.join(parse(page).prose))
    assert not raw, f'{page}: markdown links printed as text: {raw[:5]}'


def nbs_with(pred) -> dict:
    "{page: number of visible code cells of its notebook for which pred(options) holds}"
    out = {}
    for nb in (DOCS.parent / 'nbs').glob('[0-9]*.ipynb'):
        cells = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
        n = sum(pred(BUILD.directives(c)) for c in cells if BUILD.directives(c).get('echo') != 'false')
        if n: out[re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'] = n
    return out


_spec = importlib.util.spec_from_file_location('build_docs', DOCS.parent / 'tools' / 'build_docs.py')
BUILD = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(BUILD)


def words(text: str) -> str:
    return ' '.join(re.findall(r'\w+', text))


CAPTIONS = {}  # {page: the `*Figure: …*` captions of its notebook}
for _nb in (DOCS.parent / 'nbs').glob('*.ipynb'):
    for _c in json.loads(_nb.read_text())['cells']:
        _cap = BUILD.figure_caption(''.join(_c['source']))[0] if _c['cell_type'] == 'markdown' else None
        if _cap: CAPTIONS.setdefault(re.sub(r'^\d+[a-z]?_', '', _nb.stem) + '.html', []).append(' '.join(_cap.split()))


@pytest.mark.parametrize('page', PAGES)
def test_each_figure_has_its_caption_once(page):
    "Every embedded figure has alt text and a caption; a `*Figure: …*` sentence is not printed again under it"
    p = parse(page)
    figures = (DOCS / page).read_text().count('<figure>')
    assert len(p.captions) == figures and all(c.strip() for c in p.captions), f'{page}: a figure without caption'
    assert all(a.strip() and a != 'Figure' for a in p.alts), f'{page}: a figure without alt text'
    prose, under = words(' '.join(p.prose)), words(' '.join(p.captions))
    # each `*Figure: …*` sentence of the notebook, as its words outside math and code
    caps = [words(re.sub(r'\$[^$]*\$|`[^`]*`', ' ', c)) for c in CAPTIONS.get(page, [])]
    for cap in caps:
        if cap.count(' ') < 3: continue
        assert cap in under, f'{page}: caption {cap!r} not under its figure'
        assert prose.count(cap) == caps.count(cap), f'{page}: caption {cap!r} printed {prose.count(cap)} times'
    prose = ' '.join(' '.join(p.prose).split())
    assert 'Figure: ' not in prose, f'{page}: a *Figure: …* sentence left in the text'


@pytest.mark.parametrize('page, n', sorted(nbs_with(lambda d: d.get('code-fold') == 'true').items()))
def test_folded_cells_are_folded(page, n):
    "Cells flagged `#| code-fold: true` render closed in <details> (their outputs stay visible)"
    assert sum(not o for o in parse(page).details) >= n, f'{page}: fewer than {n} folded code cells'


def test_captions_and_folds_of_a_notebook():
    "The build's rules on a two-figure notebook: the caption below a figure is moved into it; the folded code"
    png = {'output_type': 'display_data', 'data': {'image/png': 'iVBORw0K'}}
    nb = {'cells': [
        {'cell_type': 'markdown', 'source': 'Some prose. More prose.'},
        {'cell_type': 'code', 'source': '#| code-fold: true\nplot(1)', 'outputs': [png]},
        {'cell_type': 'markdown', 'source': '*Figure: the line $y = x$ on\n$[0, 1]$.*\n\nThe text after it.'},
        {'cell_type': 'code', 'source': 'plot(2)', 'outputs': [png]},
        {'cell_type': 'markdown', 'source': 'No caption here.'}]}
    md = BUILD.nb_to_md(nb)[1]
    assert '![The line $y = x$ on $[0, 1]$.](data:image/png;base64,iVBORw0K)' in md
    assert md.count('y = x') == 1 and 'The text after it.' in md
    assert '![The text after it.](data:' in md  # no caption below: the first sentence of the prose before
    assert '<details>\n<summary>Code</summary>\n\n```python\nplot(1)\n```\n\n</details>' in md
    assert '```python\nplot(2)\n```' in md and md.count('<details') == 1
    readme = BUILD.nb_to_md(nb, captions=False)[1]
    assert '*Figure: the line' in readme  # GitHub shows no figcaption: the README keeps the sentence
    nb['cells'][2]['source'] = '## A heading\n\n| a table |'
    assert '![A heading](data:' in BUILD.nb_to_md(nb)[1]  # no sentence either: the heading
