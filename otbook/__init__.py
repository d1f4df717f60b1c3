__version__ = "0.1.0"

# The favourites, re-exported under POT's and GeomLoss's names (`import otbook as ot`).
import sys as _sys
from . import utils
from .utils import unif, dist
from . import datasets, plot, stochastic
from . import fit
from .fit import fit_model, gradient_flow
from . import exact
from .exact import emd, emd2, emd_1d, emd2_1d, wasserstein_1d
from . import geometry, loop, losses
from .losses import SamplesLoss
from . import bregman
from .bregman import sinkhorn, sinkhorn2, barycenter, empirical_sinkhorn, empirical_sinkhorn2
from . import solvers
from .solvers import solve, solve_sample

# POT's `ot.lp` holds its exact solvers: here that is `otbook.exact`, under both names
# (`ot.lp.emd` and `from ot.lp import emd`), not a copy.
lp = exact
_sys.modules[__name__ + '.lp'] = exact
