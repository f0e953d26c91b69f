"""Image classifiers: preprocessing, a residual body (parareal or sequential), postprocessing."""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._blocks import ResidualNetwork, apply_linear, make_blocks
from ._network import ParaRealNet, make_coarse


class Classifier(eqx.Module):
    """`logits = post(body(pre(x)))`, as the paper's preprocessing / main part / postprocessing.

    `pre` lifts the flattened image to the feature width, `body` is a `ParaRealNet` or a
    `ResidualNetwork`, `post` maps features to class logits. Accepts leading batch axes.
    """

    pre: eqx.nn.Linear
    body: Any
    post: eqx.nn.Linear

    def __call__(self, x: Float[Array, "*batch features"]) -> Float[Array, "*batch classes"]:
        return apply_linear(self.post, self.body(jnp.tanh(apply_linear(self.pre, x))))


def count_parameters(model: Any) -> int:
    """The number of scalar parameters (inexact array entries) in `model`."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return sum(int(a.size) for a in leaves)


def _block_params(width: int, hidden: int) -> int:
    return 2 * width * hidden + hidden + width


def matching_hidden(
    depth: int, width: int, hidden: int, num_parallel: int, coarse_hidden: int, coarse_depth: int
) -> int:
    """The hidden width for the sequential baseline's `depth` blocks that matches (to within one
    block's worth of rounding) the parameters of the fine blocks plus the P coarse networks."""
    if num_parallel == 1:
        return hidden
    target = depth * _block_params(width, hidden)
    target += num_parallel * coarse_depth * _block_params(width, coarse_hidden)
    per_hidden = depth * (2 * width + 1)
    return max(1, round((target - depth * width) / per_hidden))


def make_classifiers(
    *,
    in_features: int,
    num_classes: int,
    depth: int,
    width: int,
    hidden: int,
    num_parallel: int,
    coarse_hidden: int,
    coarse_depth: int = 1,
    interface: Literal["coarse", "input"] = "coarse",
    parallel: Literal["vmap", "shard"] = "vmap",
    key: PRNGKeyArray,
) -> tuple[Classifier, Classifier]:
    """A `ParaRealNet` classifier and its sequential baseline with (about) equal parameter count.

    Both share the preprocessing and postprocessing layers' initial values. The baseline is the
    original network (`depth` blocks, run in sequence) with its hidden width raised so that its
    parameter count matches the parareal network's fine blocks plus coarse networks.

    **Returns:**

    `(pararealnet_classifier, baseline_classifier)`.
    """
    kpre, kpost, kfine, kcoarse, kbase = jax.random.split(key, 5)
    pre = eqx.nn.Linear(in_features, width, key=kpre)
    post = eqx.nn.Linear(width, num_classes, key=kpost)
    coarse = None
    if num_parallel > 1:
        coarse = make_coarse(num_parallel, width, coarse_hidden, key=kcoarse, depth=coarse_depth)
    body = ParaRealNet(
        make_blocks(depth, width, hidden, key=kfine),
        num_parallel,
        coarse,
        interface=interface,
        parallel=parallel,
    )
    base_hidden = matching_hidden(depth, width, hidden, num_parallel, coarse_hidden, coarse_depth)
    baseline = ResidualNetwork(make_blocks(depth, width, base_hidden, key=kbase))
    return Classifier(pre, body, post), Classifier(pre, baseline, post)


def cross_entropy(
    model: Classifier, x: Float[Array, "batch features"], y: Int[Array, " batch"]
) -> tuple[Array, Array]:
    """Mean softmax cross-entropy and accuracy of `model` on a batch."""
    logits = model(x)
    logp = jax.nn.log_softmax(logits, axis=-1)
    loss = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
    return loss, accuracy
