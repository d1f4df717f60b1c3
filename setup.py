"""Packaging for otbook: every field comes from settings.ini (nbdev 2 convention)."""
import shlex
from configparser import ConfigParser
from setuptools import find_packages, setup

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
lib = cfg['lib_name']
licenses = {'apache2': 'Apache Software License 2.0', 'mit': 'MIT License'}

setup(
    name=lib,
    version=cfg['version'],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    url=cfg['git_url'],
    license=licenses[cfg['license']],
    keywords=cfg['keywords'],
    python_requires='>=' + cfg['min_python'],
    packages=find_packages(include=[lib, lib + '.*']),
    include_package_data=True,
    install_requires=shlex.split(cfg['requirements']),
    extras_require={'dev': shlex.split(cfg['dev_requirements']),
                    'keops': shlex.split(cfg['keops_requirements'])},
    entry_points={'nbdev': [f'{lib}={lib}._modidx:d']},
    zip_safe=False,
)
