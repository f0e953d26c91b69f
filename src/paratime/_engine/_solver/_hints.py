"""The pieces of the hints a failed solve prints (`AbstractSolver.hint`): what to try
instead, never the solver that failed."""

from .._solution import RESULTS

ELK = "`paratime.ELK()` (damped steps stay stable on chaotic cells)"
QUASI_DEER = "`paratime.QuasiDEER()`"
SEQUENTIAL = "`paratime.Sequential()`"


def try_instead(result: RESULTS, *solvers: str, exact: bool = True) -> str:
    """' Try A, B, or C.': the other `solvers` first, then (with `exact`, for a solver that
    is not the sequential scan) a shorter sequence, more `max_iters` (after
    `max_iters_reached`), the sequential fallback and `Sequential()`."""
    options = list(solvers)
    if exact:
        options.append("a shorter sequence")
        if bool(result == RESULTS.max_iters_reached):
            options.append("more `max_iters`")
        options += ["`fallback='sequential'`", SEQUENTIAL]
    if not options:
        return ""
    if len(options) == 1:
        return f" Try {options[0]}."
    return " Try " + ", ".join(options[:-1]) + ", or " + options[-1] + "."
