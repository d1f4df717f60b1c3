"""Every internal link and anchor of docs/ resolves, and no markdown is left unrendered (static, no browser)."""
import re
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

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        for key in ('href', 'src'):
            if a.get(key) and not (tag == 'link' and a.get('rel') == 'preconnect'): self.refs.append(a[key])
        if tag in self.SKIP: self._skip += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP: self._skip -= 1

    def handle_data(self, data):
        if not self._skip: self.prose.append(data)


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
