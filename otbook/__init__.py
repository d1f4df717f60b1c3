__version__ = "0.1.0"

# The favourites, re-exported under POT's and GeomLoss's names (`import otbook as ot`).
from . import utils
from .utils import unif, dist
from . import datasets, plot, stochastic
from . import fit
from .fit import fit_model, gradient_flow
from . import exact
from .exact import emd, emd2, emd_1d, emd2_1d, wasserstein_1d
from . import geometry, loop, losses
from .losses import SamplesLoss
