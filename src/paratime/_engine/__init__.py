"""The engine: Jacobian structures, recurrence strategies, the solver loop, the solvers, the
adjoints and `unroll`. Everything else in paratime (cells, layers, applications) imports it;
it imports none of them (see docs/architecture.md)."""

from ._adjoints import (
    AbstractAdjoint as AbstractAdjoint,
    AutodiffAdjoint as AutodiffAdjoint,
    ImplicitAdjoint as ImplicitAdjoint,
    IterativeAdjoint as IterativeAdjoint,
)
from ._cell import (
    AbstractCell as AbstractCell,
    AbstractLinearCell as AbstractLinearCell,
    scan_cell as scan_cell,
)
from ._failure import NewtonError as NewtonError
from ._lyapunov import Lyapunov as Lyapunov, lyapunov as lyapunov
from ._platform import for_platform as for_platform
from ._scan import linear_recurrence as linear_recurrence
from ._solution import (
    RESULTS as RESULTS,
    Linearisation as Linearisation,
    Solution as Solution,
    SolveResult as SolveResult,
)
from ._solver import (
    DEER as DEER,
    ELK as ELK,
    AbstractSolver as AbstractSolver,
    Auto as Auto,
    LinearScan as LinearScan,
    Parareal as Parareal,
    QuasiDEER as QuasiDEER,
    Sequential as Sequential,
)
from ._structures import (
    AbstractStructure as AbstractStructure,
    BlockDiagonal as BlockDiagonal,
    Dense as Dense,
    Diagonal as Diagonal,
)
from ._unroll import unroll as unroll
