"""Batching: how many sequences a `jax.vmap` is batching, and loops and branches that run a
batch in lockstep."""

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from ._platform import platform


def vmap_batch_size(tree: Any) -> int:
    """The product of the sizes of the `jax.vmap` axes over which any array of `tree` is batched.

    1 outside `vmap`. It works through a `custom_vmap` probe whose batching rule JAX calls once
    per batched level while tracing, with that level's size; the probe's result is discarded,
    so nothing of it is left in the computation. A `vmap` applied outside a `jit` (as in
    `vmap(jit(f))`) batches the already traced function and is not seen: the size is then 1.
    """
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if isinstance(x, jax.Array)]
    if not leaves:
        return 1
    sizes: list[int] = []

    @custom_vmap
    def probe(*leaves):
        return leaves

    @probe.def_vmap
    def record(axis_size, in_batched, *leaves):
        sizes.append(axis_size)
        return probe(*leaves), tuple(in_batched)  # on to the enclosing vmap, if any

    probe(*(jax.lax.stop_gradient(x) for x in leaves))
    return math.prod(sizes)


def _batched_axes(tree: Any, flags: list[bool]) -> Any:
    """`tree` with each array leaf replaced by 0 (batched) or None: an `in_axes` for vmap."""
    treedef = jax.tree_util.tree_structure(tree)
    return jax.tree_util.tree_unflatten(treedef, [0 if f else None for f in flags])


def lockstep_while_loop(
    cond_fun: Callable[[Any, Any], Any],
    body_fun: Callable[[Any, Any, Any], Any],
    init_val: Any,
    operands: Any,
) -> Any:
    """`lax.while_loop` whose `jax.vmap` runs the batch in lockstep, without whole-carry selects.

    `cond_fun(operands, carry)` says whether to go on; `body_fun(operands, carry, active)`
    takes one step. Every array the loop reads must come in through `operands` or `init_val`
    (not a closure), so that a `vmap` around it can see what is batched.

    Batched by `jax.vmap`, `lax.while_loop` with a per-sequence predicate runs the body for
    the whole batch until every sequence is done and keeps each finished sequence's carry with
    a `select` over the whole carry: the old and the new carry are both alive, twice the
    memory (for a Newton loop: the trajectory, its Jacobians and right-hand sides). Here the
    batched loop goes on while any sequence is active, and the body is told which ones are
    (`active`, a bool per sequence, True outside `vmap`): for an inactive one it must return
    its carry unchanged, in whatever way is cheapest (e.g. a masked update inside the step).
    Nested `vmap`s batch in lockstep at every level.
    """
    ops_flat, ops_tree = jax.tree_util.tree_flatten(operands)
    carry_flat, carry_tree = jax.tree_util.tree_flatten(init_val)
    n = len(ops_flat)

    def split(flat):
        ops = jax.tree_util.tree_unflatten(ops_tree, flat[:n])
        return ops, jax.tree_util.tree_unflatten(carry_tree, flat[n:])

    @custom_vmap
    def loop(*flat):
        ops, carry = split(flat)
        out = lax.while_loop(
            lambda c: cond_fun(ops, c), lambda c: body_fun(ops, c, jnp.array(True)), carry
        )
        return tuple(jax.tree_util.tree_leaves(out))

    @loop.def_vmap
    def rule(axis_size, in_batched, *flat):
        carry_flat = [
            x if b else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x))
            for x, b in zip(flat[n:], in_batched[n:])
        ]
        ops, carry = split(flat[:n] + tuple(carry_flat))
        op_axes = _batched_axes(ops, list(in_batched[:n]))
        member_cond = jax.vmap(cond_fun, in_axes=(op_axes, 0))
        member_body = jax.vmap(body_fun, in_axes=(op_axes, 0, 0))

        def any_active(ops, c):
            return jnp.any(member_cond(ops, c))

        def step(ops, c, active):
            return member_body(ops, c, active & member_cond(ops, c))

        out = lockstep_while_loop(any_active, step, carry, ops)
        leaves = tuple(jax.tree_util.tree_leaves(out))
        return leaves, (True,) * len(leaves)

    return jax.tree_util.tree_unflatten(carry_tree, loop(*ops_flat, *carry_flat))


def lockstep_cond(
    pred: Any, true_fun: Callable[[Any], Any], false_fun: Callable[[Any], Any], operands: Any
) -> Any:
    """`lax.cond(pred, true_fun, false_fun, operands)` whose `jax.vmap` runs only needed branches.

    Batched by `jax.vmap`, `lax.cond` with a per-sequence predicate becomes a `select` that
    computes both branches for the whole batch. Here the batch runs `true_fun` alone if every
    sequence takes it, `false_fun` alone if none does, and both (then selects) only if the
    batch is split. Use it where one branch is a costly fallback that is seldom taken. As with
    `lockstep_while_loop`, arrays enter through `operands` only. Not reverse-differentiable
    (forward mode works); call it where no gradient is taken through it.
    """
    ops_flat, ops_tree = jax.tree_util.tree_flatten(operands)

    @custom_vmap
    def branch(pred, *flat):
        ops = jax.tree_util.tree_unflatten(ops_tree, flat)
        return lax.cond(pred, true_fun, false_fun, ops)

    @branch.def_vmap
    def rule(axis_size, in_batched, pred, *flat):
        ops = jax.tree_util.tree_unflatten(ops_tree, flat)
        op_axes = _batched_axes(ops, list(in_batched[1:]))
        pred = pred if in_batched[0] else jnp.broadcast_to(pred, (axis_size,))

        def batched(fun):
            def run(args):
                return jax.vmap(fun, in_axes=(op_axes,), axis_size=axis_size)(args[1])

            return run

        def mixed(args):
            pred = args[0]

            def pick(t, f):
                return jnp.where(pred.reshape((axis_size,) + (1,) * (t.ndim - 1)), t, f)

            return jax.tree_util.tree_map(pick, batched(true_fun)(args), batched(false_fun)(args))

        def not_all(args):
            return lockstep_cond(jnp.any(args[0]), mixed, batched(false_fun), args)

        out = lockstep_cond(jnp.all(pred), batched(true_fun), not_all, (pred, ops))
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return branch(pred, *ops_flat)


def one_at_a_time_on_cpu(fun: Callable[..., Any], *args: Any) -> Any:
    """`fun(*args)`, whose `jax.vmap` on a CPU runs the batch one member after another.

    On a CPU a vmapped solve gains nothing from batching (one core does the work either way)
    and its working set (T·batch numbers per array) falls out of the caches; `lax.map` over the
    members keeps one sequence's working set hot, lets each member stop after its own
    iterations, and needs one member's temporaries at a time. Elsewhere it is `jax.vmap`.
    Arrays enter through `args` only (not a closure). Not reverse-differentiable: call it
    where no gradient is taken through it.
    """
    flat, treedef = jax.tree_util.tree_flatten(args)

    def raw(*flat):
        return fun(*jax.tree_util.tree_unflatten(treedef, flat))

    @custom_vmap
    def call(*flat):
        return raw(*flat)

    @call.def_vmap
    def rule(axis_size, in_batched, *flat):
        if platform() != "cpu":
            axes = [0 if b else None for b in in_batched]
            out = jax.vmap(raw, in_axes=axes, axis_size=axis_size)(*flat)
        else:
            where = [i for i, b in enumerate(in_batched) if b]

            def member(leaves):
                full = list(flat)
                for i, x in zip(where, leaves):
                    full[i] = x
                return call(*full)  # an enclosing vmap maps again

            out = lax.map(member, [flat[i] for i in where])
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return call(*flat)
