from ._abstract import AbstractSolver as AbstractSolver
from ._auto import Auto as Auto
from ._elk import ELK as ELK
from ._linear import LinearScan as LinearScan
from ._newton import DEER as DEER, AbstractNewton as AbstractNewton, QuasiDEER as QuasiDEER
from ._parareal import Parareal as Parareal
from ._sequential import Sequential as Sequential
