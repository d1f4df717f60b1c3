"""otbook: optimal transport for PyTorch, explained in runnable notebooks.

POT's favourites (``import otbook as ot``):
    ot.unif, ot.dist                    uniform weights, cost matrices
    ot.emd, ot.emd2                     exact transport plan and cost (network simplex, differentiable)
    ot.emd_1d, ot.emd2_1d, ot.wasserstein_1d   closed forms on the real line
    ot.sinkhorn, ot.sinkhorn2, ot.barycenter, ot.empirical_sinkhorn   entropic OT as POT has it (ot.bregman)
    ot.sliced_wasserstein_distance, ot.max_sliced_wasserstein_distance   sliced distances as POT has them (ot.sliced)
    ot.sinkhorn_unbalanced, ot.sinkhorn_unbalanced2   unbalanced entropic OT (ot.unbalanced, with mm_unbalanced, uot_1d)
    ot.solve, ot.solve_sample           POT's unified API, returning an OTResult (ot.solvers)
    ot.lp                               POT's ot.lp: the exact solvers (otbook.exact, re-exported) and the exact
                                        barycenters ot.lp.barycenter (an LP, HiGHS) and ot.lp.free_support_barycenter
GeomLoss's loss (``from otbook import SamplesLoss``):
    SamplesLoss                         Sinkhorn divergences, Hausdorff and kernel losses between point clouds,
                                        on dense tensors, row blocks (no N×M matrix) or KeOps
Fitting: ot.fit_model (L-BFGS / Adam), ot.gradient_flow.
Modules: utils, datasets, plot, geometry (costs, kernels, backends), loop (the one Sinkhorn loop), exact,
lp (exact extras), bregman, unbalanced, sliced, stochastic (dual OT), solvers, losses, fit.
Every module is a notebook of the docs site: https://otbook.github.io/otbook/
"""
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
from . import bregman
from .bregman import sinkhorn, sinkhorn2, barycenter, empirical_sinkhorn, empirical_sinkhorn2
from . import sliced
from .sliced import sliced_wasserstein_distance, max_sliced_wasserstein_distance
from . import unbalanced
from .unbalanced import sinkhorn_unbalanced, sinkhorn_unbalanced2
from . import solvers
from .solvers import solve, solve_sample
# POT's `ot.lp`: a module of its own that re-exports the exact solvers (`ot.lp.emd is ot.emd`) beside the barycenters
from . import lp
