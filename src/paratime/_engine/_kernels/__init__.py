"""Pallas kernels behind the `paratime.recurrences.Pallas` strategy: the diagonal (real and
complex) and k×k block-diagonal linear recurrences, forward and reverse, and the fused Newton
iteration of the structured cells. Interpret mode on a CPU; lowered for CUDA by Triton."""
