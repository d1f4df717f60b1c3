"""Render the notebooks as the docs website in docs/, offline, and README.md from nbs/index.ipynb.

nbdev's own preprocessing (`proc_nbs`: front matter, hidden cells removed, `show_doc` API
cards) writes `_proc/`; pandoc (from the pypandoc-binary wheel) turns each processed notebook
into a standalone HTML page with math as MathML (no network, no MathJax), figures inlined as
data URIs with a caption and alt text (the `*Figure: …*` sentence under a figure, moved into
it), code of `#| code-fold` cells folded in `<details>`, a sidebar linking every page (with an
offline full-text search built by Pagefind), an in-page table of contents, previous/next links, a
vendored math font, a gallery of the experiments on the home page, and an API index (`api.html`). Where Quarto exists, `nbdev_docs` still works from
the same notebooks and `nbs/_quarto.yml`.

    python tools/build_docs.py            # docs/ + README.md
    python tools/build_docs.py --readme   # README.md only
"""
import hashlib, html, importlib, inspect, json, os, re, shutil, subprocess, sys
from pathlib import Path

import yaml
from configparser import ConfigParser

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS, ASSETS = ROOT / 'nbs', ROOT / 'docs', ROOT / 'tools' / 'assets'
STAMP = DOCS / '.build-hash'
_cfg = ConfigParser(delimiters=['=']); _cfg.read(ROOT / 'settings.ini')
DOC_URL = _cfg['DEFAULT']['doc_host'] + _cfg['DEFAULT']['doc_baseurl'] + '/'
SECTIONS = (('0', 'Basics'), ('1', 'Geometry'), ('2', 'Solvers'), ('3', 'Losses and fitting'),
            ('5', 'Experiments'), ('9', 'Benchmarks'), ('~', 'Reference'))
MATH_FONT = 'latinmodern-math.woff2'  # Latin Modern Math (GUST Font License), see tools/assets/
CSS = """
@font-face{font-family:'Latin Modern Math';src:url(latinmodern-math.woff2) format('woff2');font-display:swap}
math{font-family:'Latin Modern Math',math}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;padding:0;max-width:none;color:#212529;line-height:1.55;hyphens:none}
nav.sidebar{position:fixed;top:0;left:0;bottom:0;width:15rem;overflow-y:auto;background:#f5f7fa;
  border-right:1px solid #dde3ea;padding:1rem .9rem;font-size:.92rem;box-sizing:border-box}
nav.sidebar .brand{font-weight:700;font-size:1.25rem;color:#2780e3;text-decoration:none}
nav.sidebar h4{margin:1rem 0 .3rem;color:#6c757d;font-size:.75rem;text-transform:uppercase;letter-spacing:.05em}
nav.sidebar a{display:block;color:#343a40;text-decoration:none;padding:.12rem .3rem;border-radius:3px}
nav.sidebar code{font-size:.85em}nav.sidebar a:hover{background:#e4ebf3}nav.sidebar a.active{background:#2780e3;color:#fff}
#search{margin:.6rem 0;--pagefind-ui-scale:.7}
main{margin-left:15rem;max-width:64rem;padding:1rem 2.5rem 4rem;box-sizing:border-box}
nav#TOC{font-size:.86rem;border-left:2px solid #dde3ea;padding:.2rem .8rem;margin:1rem 0}
nav#TOC ul{list-style:none;padding-left:.8rem;margin:.1rem 0}nav#TOC>ul{padding-left:0}
nav#TOC a{color:#495057;text-decoration:none}nav#TOC a:hover{color:#2780e3}
figure{margin:1rem 0}figcaption{font-size:.88rem;color:#495057;margin-top:.2rem}figcaption::before{content:'Figure: ';font-weight:600}
details{margin:.6rem 0}details>summary{cursor:pointer;color:#2780e3;font-size:.9rem}details>summary+div,details>summary+pre{margin-top:.3rem}
nav#TOC::before{content:'On this page';display:block;font-weight:600;color:#6c757d;margin-bottom:.2rem}
@media (min-width:1400px){main{margin-right:16rem}
  nav#TOC{position:fixed;top:1rem;right:1rem;width:14rem;max-height:calc(100vh - 2rem);overflow-y:auto;margin:0}}
header#title-block-header h1{margin-bottom:.2rem}p.subtitle{color:#6c757d;font-size:1.1rem;margin-top:0}
code{white-space:pre-wrap;overflow-wrap:anywhere}pre code,pre > code.sourceCode{white-space:pre-wrap;overflow-wrap:anywhere}
pre{background:#f7f7f9;border-left:3px solid #2780e3;padding:.6rem .8rem;font-size:.86rem;overflow-x:auto}
pre.out,div.out pre{border-left-color:#adb5bd;background:#fcfcfd}
code{font-size:.9em}img{max-width:100%;height:auto}
math[display=block]{margin:.8rem 0;max-width:100%;overflow-x:auto;overflow-y:hidden;padding:.15rem 0}
table{border-collapse:collapse;margin:.6rem 0;display:block;overflow-x:auto}td,th{border:1px solid #dee2e6;padding:.25rem .55rem;font-size:.9rem}
hr{border:0;border-top:1px solid #dee2e6;margin:1.6rem 0 .4rem}
nav.pager{display:flex;justify-content:space-between;gap:1rem;margin-top:3rem;padding-top:1rem;border-top:1px solid #dee2e6}
nav.pager a{text-decoration:none;color:#2780e3;max-width:48%}nav.pager .next{margin-left:auto;text-align:right}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1rem;margin:1rem 0 1.5rem}
.gallery a{display:block;border:1px solid #dee2e6;border-radius:6px;padding:.5rem;text-decoration:none;color:#212529}
.gallery img{width:100%;aspect-ratio:4/3;object-fit:contain;background:#fff}.gallery span{display:block;font-size:.9rem;margin-top:.3rem}
@media (max-width:900px){nav.sidebar{position:static;width:auto;border-right:0;border-bottom:1px solid #dde3ea;max-height:none}
  nav.sidebar a{display:inline-block;margin:.1rem .2rem}main{margin-left:0;padding:.6rem 1rem 3rem}}
"""


def source_hash() -> str:
    "Hash of everything the site is built from: a committed docs/ whose stamp differs is stale"
    h = hashlib.sha256()
    files = sorted(NBS.rglob('*.ipynb')) + [NBS / '_quarto.yml', ROOT / 'settings.ini', Path(__file__)] + sorted(ASSETS.glob('*'))
    for f in files:
        if any(p.startswith(('.', '_proc')) for p in f.relative_to(ROOT).parts): continue
        h.update(str(f.relative_to(ROOT)).encode() + b'\0' + f.read_bytes() + b'\0')
    return h.hexdigest()


def directives(source: str) -> dict:
    "Cell options from the `#| key: value` lines at the top of a cell"
    out = {}
    for line in source.splitlines():
        if not line.startswith('#|'): break
        key, _, val = line[2:].strip().partition(':')
        out[key.strip()] = val.strip()
    return out


def text(x) -> str:
    return ''.join(x) if isinstance(x, list) else str(x)


def caption(prose: str) -> str:
    "A figure's caption: the first sentence of the prose before it (else its heading), as one line of markdown"
    para = next((p for p in prose.split('\n\n') if p.strip() and not p.lstrip().startswith(('#', '|', '```', '$$'))), '')
    first = re.split(r'(?<=[.:;])\s', ' '.join(para.split()), maxsplit=1)[0].rstrip(':;')
    heads = [line.lstrip('#').strip() for line in prose.splitlines() if line.startswith('#')]
    return one_line(first or (heads[-1] if heads else '')) or 'Figure'


FIG_CAP = re.compile(r'\A\s*\*Figure:\s*(.+?)\*(?=\s|\Z)\s*', re.S)  # `*Figure: …*` opening a markdown cell


def one_line(md: str) -> str:
    "Markdown on one line that can sit inside `![…]`: brackets kept where they pair up (as in `$[0, 1]$`)"
    md = ' '.join(md.split())
    depth = 0
    for ch in md:
        depth += (ch == '[') - (ch == ']')
        if depth < 0: break
    return md if depth == 0 else md.replace('[', '(').replace(']', ')')


def figure_caption(md: str):
    "(caption, the rest of the cell) when markdown `md` opens with the sentence `*Figure: …*`, else (None, md)"
    m = FIG_CAP.match(md)
    if not m: return None, md
    cap = one_line(m[1]).rstrip()
    return cap[:1].upper() + cap[1:], md[m.end():]


def fold(code: str, d: dict) -> str:
    "A code block, inside `<details>` when the cell says `#| code-fold: true` (closed) or `show` (open)"
    block = f'```python\n{code}\n```'
    if d.get('code-fold') not in ('true', 'show'): return block
    summary = html.escape(d.get('code-summary', 'Code').strip('"\'') or 'Code')
    return f'<details{" open" if d["code-fold"] == "show" else ""}>\n<summary>{summary}</summary>\n\n{block}\n\n</details>'


def output_md(out: dict, cap: str = 'Figure') -> str:
    "One cell output as markdown; a figure with its caption (also its alt text)"
    data = out.get('data', {})
    if 'image/png' in data: return f'![{cap}](data:image/png;base64,{text(data["image/png"]).strip()})'
    if 'text/markdown' in data:
        md = text(data['text/markdown'])
        if md.startswith('['):  # execnb stores show_doc markdown as a list literal
            try: md = ''.join(eval(md, {}))
            except Exception: pass
        return md
    if 'text/html' in data: return '```{=html}\n' + text(data['text/html']) + '\n```'
    if 'text/plain' in data: return '```{.out}\n' + text(data['text/plain']) + '\n```'
    if out.get('output_type') == 'stream': return '```{.out}\n' + text(out['text']).rstrip() + '\n```'
    return ''


def nb_to_md(nb: dict, drop_hidden: bool = False, out_class: str = '{.out}', captions: bool = True):
    """(front matter, markdown body) of a notebook: code, outputs and prose in order. With `captions`, a figure's
    caption is the `*Figure: …*` sentence opening the markdown cell after it (then not printed a second time)"""
    fm, parts, prose, cells = {}, [], '', nb['cells']
    taken = set()  # markdown cells whose caption sentence moved to the figure before them
    for i, c in enumerate(cells):
        src = text(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            continue
        if c['cell_type'] == 'markdown':
            if i in taken: src = figure_caption(src)[1]
            if src.strip(): parts.append(src)
            prose = src
            continue
        if c['cell_type'] != 'code': continue
        d = directives(src)
        if drop_hidden and ('hide' in d or d.get('eval') == 'false' or 'default_exp' in d): continue
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
        if d.get('echo') != 'false' and code: parts.append(fold(code, d))
        if d.get('output') == 'false': continue
        outs = c.get('outputs', [])
        cap = d.get('fig-cap') or caption(prose)
        after = cells[i + 1] if i + 1 < len(cells) else {}
        last_png = max((k for k, o in enumerate(outs) if 'image/png' in o.get('data', {})), default=None)
        if captions and last_png is not None and after.get('cell_type') == 'markdown':
            below = figure_caption(text(after['source']))[0]
            if below: taken.add(i + 1)
        else: below = None
        mds = [output_md(o, (below if below and k == last_png else None) or cap) for k, o in enumerate(outs)]
        parts += [md.replace('```{.out}', '```' + out_class) for md in mds if md]
    return fm, '\n\n'.join(parts)


NB_LINK = re.compile(r'\]\(((?:\.\./nbs/)?([0-9][\w]*|index)\.ipynb)(#[^)\s]*)?\)')


def notebook_pages() -> dict:
    "{notebook file name: its page}: nbdev names a page after its notebook, without the number"
    out = {}
    for nb in NBS.glob('*.ipynb'):
        fm = nb_to_md(json.loads(nb.read_text()))[0]
        out[nb.name] = fm.get('output-file') or re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'
    return out


def local_links(md: str, pages: dict, base: str = '') -> str:
    "Links to the published site made relative, links to notebooks (which Colab and GitHub follow) made links to pages"
    def page(m):
        name = Path(m[1]).name
        return f']({base}{pages[name]}{m[3] or ""})' if name in pages else m[0]
    return NB_LINK.sub(page, md.replace(DOC_URL, ''))


def page_name(nb_path: Path, fm: dict) -> str:
    return fm.get('output-file') or nb_path.stem + '.html'


def inline_code(title: str) -> str:
    "A page title for HTML: its `code` spans as <code>"
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', title)


def sidebar(pages, current: str) -> str:
    "The navigation column: home, search, then the notebooks grouped by their number"
    link = lambda name, title: f'<a href="{name}"{" class=active" if name == current else ""}>{inline_code(title)}</a>'
    html = ['<nav class="sidebar"><a class="brand" href="index.html">otbook</a>', '<div id="search"></div>']
    for prefix, heading in SECTIONS:
        group = [(n, t) for stem, n, t in pages if stem[0] == prefix]
        if group: html += [f'<h4>{heading}</h4>'] + [link(n, t) for n, t in group]
    return '\n'.join(html + ['</nav>'])


SEARCH_HEAD = """<link href="pagefind/pagefind-ui.css" rel="stylesheet">
<script src="pagefind/pagefind-ui.js"></script>
<script>window.addEventListener('DOMContentLoaded', () => {
  if (window.PagefindUI) new PagefindUI({element: '#search', showSubResults: true, resetStyles: false});
});</script>"""


def pager(order, current: str) -> str:
    "Previous / next links in reading order"
    i = [n for n, _ in order].index(current)
    prev = f'<a class="prev" href="{order[i - 1][0]}">← {inline_code(order[i - 1][1])}</a>' if i > 0 else ''
    nxt = f'<a class="next" href="{order[i + 1][0]}">{inline_code(order[i + 1][1])} →</a>' if i + 1 < len(order) else ''
    return f'<nav class="pager">{prev}{nxt}</nav>'


def pandoc(md: str, dest: Path, title: str, subtitle: str, nav: str, after: str = ''):
    "Render markdown `md` to a standalone HTML page with MathML and a table of contents"
    import pypandoc
    tmp = dest.parent / '_parts'
    tmp.mkdir(exist_ok=True)
    (tmp / 'head.html').write_text(SEARCH_HEAD)
    (tmp / 'before.html').write_text(nav + '\n<main data-pagefind-body>')
    (tmp / 'after.html').write_text(after + '</main>')
    cmd = [pypandoc.get_pandoc_path(), '-f', 'markdown', '-t', 'html5', '-s', '--mathml',
           '--toc', '--toc-depth=2', '--css', 'style.css', '-M', 'document-css=false', '-H', str(tmp / 'head.html'),
           '-B', str(tmp / 'before.html'), '-A', str(tmp / 'after.html'), '-o', str(dest)]
    # a YAML block rather than --metadata, so that the title and subtitle are read as markdown
    meta = {'title': title, 'pagetitle': f'{title} – otbook', 'subtitle': subtitle}
    head = '---\n' + ''.join(f'{k}: {json.dumps(v)}\n' for k, v in meta.items() if v) + '---\n\n'
    subprocess.run(cmd, input=head + md, text=True, check=True)


def public_objects() -> dict:
    "{name: object} for every public name of every otbook module (what the API cards document)"
    import otbook._modidx as _  # noqa: F401  (loads the symbol index)
    import otbook
    objs = {}
    for mod in sorted(otbook._modidx.d['syms']):
        m = importlib.import_module(mod)
        objs.update({n: getattr(m, n) for n in getattr(m, '__all__', []) if hasattr(m, n)})
    return objs


def fix_cards(md: str, objs: dict) -> str:
    "API cards as Python shows them: `class` for classes, no `NoneType` annotations or `<factory>` defaults, a Returns line"
    def card(m):
        head, kind, name, sig, doc = m[1], m[2], m[3], m[4], m[5] or ''
        obj = objs.get(name)
        if inspect.isclass(obj): kind = 'class'
        sig = re.sub(r':NoneType=', '=', sig).replace(':list=<factory>', ':list=[]').replace(':dict=<factory>', ':dict={}')
        returns = ''
        if callable(obj) and not inspect.isclass(obj):
            ann = inspect.signature(obj).return_annotation
            if ann is not inspect.Signature.empty:
                returns = f'\n\n**Returns**: `{ann if isinstance(ann, str) else getattr(ann, "__name__", ann)}`'
        return f'{head}```python\n{kind} {name}{sig}```{doc}{returns}'
    return re.sub(r'(#{2,4} \S+\s*\n+)```python\n(def|class) (\w+)(\(.*?\n)```(\n\n\*[^\n]*\*)?', card, md, flags=re.S)


def api_page(objs: dict) -> str:
    "Markdown of the API index: every public name, its one-line summary and the page that documents it"
    import otbook._modidx as _  # noqa: F401  (loads the symbol index)
    import otbook
    rows = []
    for mod, syms in sorted(otbook._modidx.d['syms'].items()):
        m = importlib.import_module(mod)
        for name in getattr(m, '__all__', []):
            if (f'{mod}.{name}' not in syms) or not hasattr(m, name): continue
            obj = getattr(m, name)
            kind = 'class' if inspect.isclass(obj) else 'function' if callable(obj) else 'constant'
            doc = (inspect.getdoc(obj) or '').splitlines()[0] if kind != 'constant' else f'a `{type(obj).__name__}`'
            page = syms[f'{mod}.{name}'][0]
            rows.append(f'| [`{name}`]({page}) | {kind} | `{mod}` | {doc.replace("|", "∣")} |')
    return ('Every public name of otbook, with its one-line summary; each links to the card on the page that '
            'explains it.\n\n| name | kind | module | summary |\n|---|---|---|---|\n' + '\n'.join(rows))


def gallery(pages) -> str:
    "HTML block: one thumbnail (the first figure) per experiment notebook, linking to its page"
    import base64, io
    from PIL import Image
    (DOCS / 'thumbs').mkdir(exist_ok=True)
    items = []
    for p, fm, _ in pages:
        if not p.stem.startswith('5'): continue
        pngs = [c for cell in json.loads(p.read_text())['cells'] for c in cell.get('outputs', []) if 'image/png' in c.get('data', {})]
        if not pngs: continue
        img = Image.open(io.BytesIO(base64.b64decode(text(pngs[0]['data']['image/png']))))
        img.thumbnail((400, 300))
        img.save(DOCS / 'thumbs' / f'{p.stem}.png', optimize=True)
        title = fm.get('title', p.stem)
        items.append(f'<a href="{page_name(p, fm)}"><img src="thumbs/{p.stem}.png" alt="First figure of {title}">'
                     f'<span>{title}</span></a>')
    return '```{=html}\n<div class="gallery">\n' + '\n'.join(items) + '\n</div>\n```'


def build_site():
    "Process the notebooks with nbdev and render every page into docs/, then index them for search"
    from nbdev.serve import proc_nbs
    import pagefind_bin
    os.chdir(ROOT)
    # nbdev runs the notebooks' import cells in spawned workers: let them import otbook from here
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))
    sys.path.insert(0, str(ROOT))
    proc = proc_nbs(force=True)
    nbs = sorted((p for p in Path(proc).glob('*.ipynb')), key=lambda p: (p.name != 'index.ipynb', p.name))
    objs, nb_pages = public_objects(), notebook_pages()
    pages = []
    for p in nbs:
        fm, md = nb_to_md(json.loads(p.read_text()))
        pages.append((p, fm, fix_cards(local_links(md, nb_pages), objs)))
    if DOCS.exists(): shutil.rmtree(DOCS)
    DOCS.mkdir()
    pages.append((Path('~api.ipynb'), {'title': 'API index', 'output-file': 'api.html',
                                       'description': 'Every public function and class, by module.'}, api_page(objs)))
    nav_entries = [(p.stem, page_name(p, fm), fm.get('title', p.stem)) for p, fm, _ in pages if p.name != 'index.ipynb']
    order = [('index.html', 'Home')] + [(n, t) for _, n, t in nav_entries]
    (DOCS / 'style.css').write_text(CSS.lstrip())
    shutil.copy(ASSETS / MATH_FONT, DOCS / MATH_FONT)
    for p, fm, md in pages:
        name = page_name(p, fm)
        if p.name == 'index.ipynb': md = md.replace('\n## Install', '\n## Gallery\n\n' + gallery(pages) + '\n\n## Install', 1)
        pandoc(md, DOCS / name, fm.get('title', p.stem), fm.get('description', ''), sidebar(nav_entries, name),
               pager(order, name))
        print('wrote', DOCS / name)
    shutil.rmtree(DOCS / '_parts')
    subprocess.run([str(pagefind_bin.get_executable()), '--site', str(DOCS), '--silent'], check=True)
    (DOCS / '.nojekyll').touch()
    STAMP.write_text(source_hash() + '\n')


def readme_text() -> str:
    "README.md: nbs/index.ipynb as markdown, hidden cells dropped, page links pointing at the website"
    fm, md = nb_to_md(json.loads((NBS / 'index.ipynb').read_text()), drop_hidden=True, out_class='', captions=False)
    md = local_links(md, notebook_pages(), base=DOC_URL)
    return md.strip() + '\n\n<!-- generated from nbs/index.ipynb by tools/build_docs.py: do not edit -->\n'


if __name__ == '__main__':
    (ROOT / 'README.md').write_text(readme_text())
    if '--readme' not in sys.argv: build_site()
