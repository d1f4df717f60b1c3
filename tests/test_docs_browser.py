"""Open the rendered site in a real (headless) browser: links resolve, math is MathML, figures show."""
import shutil, subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / 'docs'
BROWSER = next((b for b in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason='no Chromium installed (apt-get install chromium)')


class Page(HTMLParser):
    "What the browser's DOM holds: sidebar links, MathML elements, images"
    def __init__(self):
        super().__init__()
        self.links, self.math, self.images, self._nav = [], 0, [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'nav': self._nav += 1
        if tag == 'a' and self._nav: self.links.append(a.get('href'))
        if tag == 'math': self.math += 1
        if tag == 'img': self.images.append(a.get('src', ''))

    def handle_endtag(self, tag):
        if tag == 'nav': self._nav -= 1


def dom(page: str) -> Page:
    out = subprocess.run([BROWSER, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                          '--disable-component-update', '--no-first-run', '--dump-dom', (DOCS / page).as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    p = Page()
    p.feed(out)
    return p


def test_index_page():
    p = dom('index.html')
    pages = sorted(DOCS.glob('*.html'))
    assert len(p.links) >= len(pages), 'sidebar does not list every page'
    for href in p.links: assert (DOCS / href).exists(), f'broken sidebar link {href}'
    assert {(DOCS / h).name for h in p.links} == {f.name for f in pages}
    assert p.math > 0, 'no MathML on the home page'


def test_utils_page():
    p = dom('utils.html')
    assert p.math > 5
    assert any(src.startswith('data:image/png;base64,') for src in p.images), 'figure not embedded'


@pytest.mark.parametrize('page', sorted(p.name for p in DOCS.glob('*.html')))
def test_every_page(page):
    "Each page lists every page in its sidebar, marks itself, and renders its figures and math offline"
    p = dom(page)
    assert {(DOCS / h).name for h in p.links} == {f.name for f in DOCS.glob('*.html')}
    assert p.math > 0 or page.startswith('bench_'), f'{page}: no MathML'
    if page != 'index.html':
        assert any(src.startswith('data:image/png;base64,') for src in p.images), f'{page}: no embedded figure'
