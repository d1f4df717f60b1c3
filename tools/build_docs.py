"""Render the notebooks as the docs website in docs/, offline, and README.md from nbs/index.ipynb.

nbdev's own preprocessing (`proc_nbs`: front matter, hidden cells removed, `show_doc` API
cards) writes `_proc/`; pandoc (from the pypandoc-binary wheel) turns each processed notebook
into a standalone HTML page with math as MathML (no network, no MathJax), figures inlined as
data URIs, and a sidebar linking every page. Where Quarto exists, `nbdev_docs` still works from
the same notebooks and `nbs/_quarto.yml`.

    python tools/build_docs.py            # docs/ + README.md
    python tools/build_docs.py --readme   # README.md only
"""
import hashlib, json, os, re, shutil, subprocess, sys
from pathlib import Path

import yaml
from configparser import ConfigParser

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS = ROOT / 'nbs', ROOT / 'docs'
STAMP = DOCS / '.build-hash'
_cfg = ConfigParser(delimiters=['=']); _cfg.read(ROOT / 'settings.ini')
DOC_URL = _cfg['DEFAULT']['doc_host'] + _cfg['DEFAULT']['doc_baseurl'] + '/'
SECTIONS = (('0', 'Basics'), ('1', 'Geometry'), ('2', 'Solvers'), ('3', 'Losses and fitting'),
            ('5', 'Experiments'), ('9', 'Benchmarks'))
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;padding:0;max-width:none;color:#212529;line-height:1.55;hyphens:none}
nav.sidebar{position:fixed;top:0;left:0;bottom:0;width:15rem;overflow-y:auto;background:#f5f7fa;
  border-right:1px solid #dde3ea;padding:1rem .9rem;font-size:.92rem}
nav.sidebar .brand{font-weight:700;font-size:1.25rem;color:#2780e3;text-decoration:none}
nav.sidebar h4{margin:1rem 0 .3rem;color:#6c757d;font-size:.75rem;text-transform:uppercase;letter-spacing:.05em}
nav.sidebar a{display:block;color:#343a40;text-decoration:none;padding:.12rem .3rem;border-radius:3px}
nav.sidebar a:hover{background:#e4ebf3}nav.sidebar a.active{background:#2780e3;color:#fff}
main{margin-left:17rem;max-width:52rem;padding:1rem 2rem 4rem}
header#title-block-header h1{margin-bottom:.2rem}p.subtitle{color:#6c757d;font-size:1.1rem;margin-top:0}
code{white-space:pre-wrap}pre code{white-space:pre}
pre{background:#f7f7f9;border-left:3px solid #2780e3;padding:.6rem .8rem;overflow-x:auto;font-size:.86rem}
pre.out,div.out pre{border-left-color:#adb5bd;background:#fcfcfd}
code{font-size:.9em}img{max-width:100%}math[display=block]{margin:.8rem 0;overflow-x:auto}
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #dee2e6;padding:.25rem .55rem;font-size:.9rem}
hr{border:0;border-top:1px solid #dee2e6;margin:1.6rem 0 .4rem}
"""


def source_hash() -> str:
    "Hash of everything the site is built from: a committed docs/ whose stamp differs is stale"
    h = hashlib.sha256()
    files = sorted(NBS.rglob('*.ipynb')) + [NBS / '_quarto.yml', ROOT / 'settings.ini', Path(__file__)]
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


def output_md(out: dict) -> str:
    "One cell output as markdown"
    data = out.get('data', {})
    if 'image/png' in data: return f'![](data:image/png;base64,{text(data["image/png"]).strip()})'
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


def nb_to_md(nb: dict, drop_hidden: bool = False, out_class: str = '{.out}'):
    "(front matter, markdown body) of a notebook: code, outputs and prose in order"
    fm, parts = {}, []
    for c in nb['cells']:
        src = text(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            continue
        if c['cell_type'] == 'markdown':
            parts.append(src)
            continue
        if c['cell_type'] != 'code': continue
        d = directives(src)
        if drop_hidden and ('hide' in d or d.get('eval') == 'false' or 'default_exp' in d): continue
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
        if d.get('echo') != 'false' and code: parts.append(f'```python\n{code}\n```')
        if d.get('output') == 'false': continue
        parts += [md.replace('```{.out}', '```' + out_class) for md in map(output_md, c.get('outputs', [])) if md]
    return fm, '\n\n'.join(parts)


def local_links(md: str) -> str:
    "Links nbdev points at the published site, made relative so the site works from disk"
    return md.replace(DOC_URL, '')


def page_name(nb_path: Path, fm: dict) -> str:
    return fm.get('output-file') or nb_path.stem + '.html'


def sidebar(pages, current: str) -> str:
    "The navigation column: home, then the notebooks grouped by their number"
    link = lambda name, title: f'<a href="{name}"{" class=active" if name == current else ""}>{title}</a>'
    html = ['<nav class="sidebar"><a class="brand" href="index.html">otbook</a>']
    for prefix, heading in SECTIONS:
        group = [(n, t) for stem, n, t in pages if stem[0] == prefix]
        if group: html += [f'<h4>{heading}</h4>'] + [link(n, t) for n, t in group]
    return '\n'.join(html + ['</nav>'])


def pandoc(md: str, dest: Path, title: str, subtitle: str, nav: str):
    "Render markdown `md` to a standalone HTML page with MathML"
    import pypandoc
    tmp = dest.parent / '_parts'
    tmp.mkdir(exist_ok=True)
    (tmp / 'before.html').write_text(nav + '\n<main>')
    (tmp / 'after.html').write_text('</main>')
    cmd = [pypandoc.get_pandoc_path(), '-f', 'markdown-implicit_figures', '-t', 'html5', '-s', '--mathml',
           '--css', 'style.css', '-M', 'document-css=false', '-B', str(tmp / 'before.html'), '-A', str(tmp / 'after.html'),
           '-o', str(dest)]
    # a YAML block rather than --metadata, so that the title and subtitle are read as markdown
    meta = {'title': title, 'pagetitle': f'{title} – otbook', 'subtitle': subtitle}
    head = '---\n' + ''.join(f'{k}: {json.dumps(v)}\n' for k, v in meta.items() if v) + '---\n\n'
    subprocess.run(cmd, input=head + md, text=True, check=True)


def build_site():
    "Process the notebooks with nbdev and render every page into docs/"
    from nbdev.serve import proc_nbs
    os.chdir(ROOT)
    # nbdev runs the notebooks' import cells in spawned workers: let them import otbook from here
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))
    proc = proc_nbs(force=True)
    nbs = sorted((p for p in Path(proc).glob('*.ipynb')), key=lambda p: (p.name != 'index.ipynb', p.name))
    pages = []
    for p in nbs:
        fm, md = nb_to_md(json.loads(p.read_text()))
        pages.append((p, fm, local_links(md)))
    nav_entries = [(p.stem, page_name(p, fm), fm.get('title', p.stem)) for p, fm, _ in pages if p.name != 'index.ipynb']
    if DOCS.exists(): shutil.rmtree(DOCS)
    DOCS.mkdir()
    (DOCS / 'style.css').write_text(CSS.lstrip())
    for p, fm, md in pages:
        name = page_name(p, fm)
        pandoc(md, DOCS / name, fm.get('title', p.stem), fm.get('description', ''), sidebar(nav_entries, name))
        print('wrote', DOCS / name)
    shutil.rmtree(DOCS / '_parts')
    (DOCS / '.nojekyll').touch()
    STAMP.write_text(source_hash() + '\n')


def readme_text() -> str:
    "README.md: nbs/index.ipynb as markdown, hidden cells dropped, page links pointing at the website"
    fm, md = nb_to_md(json.loads((NBS / 'index.ipynb').read_text()), drop_hidden=True, out_class='')
    md = re.sub(r'\]\((\w+\.html)\)', lambda m: f']({DOC_URL}{m[1]})', md)
    return md.strip() + '\n\n<!-- generated from nbs/index.ipynb by tools/build_docs.py: do not edit -->\n'


if __name__ == '__main__':
    (ROOT / 'README.md').write_text(readme_text())
    if '--readme' not in sys.argv: build_site()
