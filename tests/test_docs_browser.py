"""Open the rendered site in a real (headless) browser: links resolve, math is MathML, figures show, search and
the table of contents are there; screenshots at laptop and phone widths go to .screenshots/ (look at them)."""
import shutil, subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / 'docs'
BROWSER = next((b for b in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason='no Chromium installed (apt-get install chromium)')


class Page(HTMLParser):
    "What the browser's DOM holds: sidebar links, MathML elements, images, the ids of the navigation blocks"
    def __init__(self):
        super().__init__()
        self.links, self.math, self.images, self.ids, self._nav = [], 0, [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'nav': self._nav.append(a.get('class') == 'sidebar')
        if tag == 'a' and any(self._nav): self.links.append(a.get('href'))
        if tag == 'math': self.math += 1
        if tag == 'img': self.images.append(a.get('src', ''))
        if a.get('id'): self.ids.add(a['id'])
        if a.get('class'): self.ids.add('.' + a['class'])

    def handle_endtag(self, tag):
        if tag == 'nav': self._nav.pop()


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
    assert p.math > 0 or page.startswith('bench_') or page == 'api.html', f'{page}: no MathML'
    if page not in ('index.html', 'api.html') and not page.startswith('bench_'):  # benchmarks may be tables only
        assert any(src.startswith('data:image/png;base64,') for src in p.images), f'{page}: no embedded figure'
    assert {'search', '.pager'} <= p.ids, f'{page}: no search box or previous/next links'
    assert 'TOC' in p.ids or page == 'api.html', f'{page}: no table of contents'


def test_search_index_and_gallery():
    "Pagefind indexed every page; the home page shows one thumbnail per experiment"
    assert (DOCS / 'pagefind' / 'pagefind-ui.js').exists() and (DOCS / 'pagefind' / 'pagefind-entry.json').exists()
    import json
    entry = json.loads((DOCS / 'pagefind' / 'pagefind-entry.json').read_text())
    assert sum(lang['page_count'] for lang in entry['languages'].values()) == len(list(DOCS.glob('*.html')))
    thumbs = [src for src in dom('index.html').images if src.startswith('thumbs/')]
    assert len(thumbs) == len([p for p in (DOCS.parent / 'nbs').glob('5*.ipynb')])
    for src in thumbs: assert (DOCS / src).exists()


SHOTS = DOCS.parent / '.screenshots'


@pytest.mark.parametrize('page', ['index.html', 'geometry.html', 'exact.html', 'gradient_flows_2d.html'])
@pytest.mark.parametrize('width', [1400, 420])
def test_screenshots(page, width):
    "A screenshot at laptop and phone width, written to .screenshots/ for a person to look at"
    SHOTS.mkdir(exist_ok=True)
    dest = SHOTS / f'{Path(page).stem}-{width}.png'
    subprocess.run([BROWSER, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                    '--hide-scrollbars', f'--window-size={width},2200', f'--screenshot={dest}', (DOCS / page).as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert dest.stat().st_size > 20000, f'{dest}: nearly empty screenshot'
