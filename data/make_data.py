"""Rewrite the small inputs of the experiments: `python data/make_data.py` (no downloads)."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout's otbook, installed or not
from otbook.datasets import write_density_images  # noqa: E402

if __name__ == '__main__':
    for path in write_density_images(HERE): print('wrote', path)
