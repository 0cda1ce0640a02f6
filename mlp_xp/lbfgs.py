"""L-BFGS: quasi-Newton directions from the last m steps (Nocedal & Wright, chapter 7).

Seed 004's descent method θᵏ⁺¹ = θᵏ + αᵏ dᵏ, with dᵏ = −Hₖ ∇𝓔(θᵏ) in place of
−∇𝓔(θᵏ): Hₖ approximates the inverse Hessian from the last m pairs
sᵢ = θⁱ⁺¹ − θⁱ, yᵢ = ∇𝓔(θⁱ⁺¹) − ∇𝓔(θⁱ) and is never formed; the two-loop
recursion applies it in O(m·n).  αᵏ meets the strong Wolfe conditions
(``line_search.strong_wolfe``), which make sᵀy > 0 and so keep Hₖ positive
definite.  Vectors are lists of arrays, one per parameter, on the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import array_api_compat

from ._backend import host_floats, namespace_of
from ._validation import check_int, check_real
from .line_search import Point, strong_wolfe

RUNNING, CONVERGED, STALLED = 0, 1, 2
Memory = list[tuple[list[Any], list[Any], float]]


def dot(xp: Any, a: Sequence[Any], b: Sequence[Any]) -> Any:
    """⟨a, b⟩ of two vectors given as lists of arrays: a 0-d device array."""
    return sum(xp.sum(u * v) for u, v in zip(a, b))


def two_loop(xp: Any, grads: Sequence[Any], memory: Memory) -> list[Any]:
    """Hₖ g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4).

    ``memory`` holds the pairs (sᵢ, yᵢ, ρᵢ = 1/sᵢᵀyᵢ), oldest first; with no
    pair, Hₖ = I.

    Notes
    -----
    q ← g;  for i = k−1, ..., k−m:  αᵢ ← ρᵢ sᵢᵀq,  q ← q − αᵢ yᵢ
    r ← γₖ q,  γₖ = sₖ₋₁ᵀyₖ₋₁ / yₖ₋₁ᵀyₖ₋₁  (H⁰ₖ = γₖ I)
    for i = k−m, ..., k−1:  β ← ρᵢ yᵢᵀr,  r ← r + sᵢ (αᵢ − β)
    return r = Hₖ g.  αᵢ, β and γₖ stay 0-d device arrays: nothing is read.
    """
    q, alphas = list(grads), []
    for s, y, rho in reversed(memory):
        alpha = rho * dot(xp, s, q)
        q = [qi - alpha * yi for qi, yi in zip(q, y)]
        alphas.append(alpha)
    if memory:
        _, y, rho = memory[-1]
        gamma = 1.0 / (rho * dot(xp, y, y))
        q = [gamma * qi for qi in q]
    for (s, y, rho), alpha in zip(memory, reversed(alphas)):
        beta = rho * dot(xp, y, q)
        q = [qi + (alpha - beta) * si for qi, si in zip(q, s)]
    return q


@dataclass(frozen=True)
class LBFGS:
    """Limited-memory BFGS with a strong Wolfe line search, for full-batch training.

    Parameters
    ----------
    memory : int ≥ 1
        m, the number of curvature pairs (s, y) kept.
    gtol : float ≥ 0
        Converged once ‖∇𝓔‖∞ ≤ gtol (SciPy's ``gtol``, scikit-learn's ``tol``).
    ftol : float ≥ 0
        Converged once a step decreases 𝓔 by at most ftol·max(|𝓔ᵏ|, |𝓔ᵏ⁺¹|, 1)
        (SciPy's ``ftol``).
    c1, c2 : float, 0 < c1 < c2 < 1
        The strong Wolfe constants.
    max_line_search : int ≥ 1
        Objective evaluations allowed per line search.

    Notes
    -----
    Each step is one iteration: dᵏ = −Hₖ∇𝓔 (``two_loop``; −∇𝓔 while the
    memory is empty, the first trial step then 1/‖∇𝓔‖, as SciPy), then the
    line search from α = 1.  A pair is kept only if sᵀy > ε·(−αφ'(0)), ε the
    dtype's machine epsilon (L-BFGS-B's test): the Wolfe step guarantees
    sᵀy ≥ (1 − c₂)(−αφ'(0)), so only a line search that ran out of budget, or
    rounding, skips one.  The oldest pair goes when m are kept.  A direction
    that is not one of descent (rounding) restarts from −∇𝓔 with an empty
    memory, as does a failed line search; one that fails along −∇𝓔 stalls.

    ``fit`` passes 𝓔(θ) as ``value`` and ``value_and_grad`` θ ↦ (𝓔, ∇𝓔) on
    the full batch (``needs_value_and_grad``); mini-batches are refused
    (``full_batch``): pairs from different batches would mix curvature with
    sampling noise.  ``lr`` plays no part.  Host reads per iteration: one
    transfer of φ(0), φ'(0), ‖∇𝓔‖∞ and ‖d‖, then one of φ(α), φ'(α) and
    ‖∇𝓔(θ + αd)‖∞ per trial step (and, in ``fit``, one flag: whether θ is
    still the point the state keeps); the two-loop recursion reads nothing.

    State: ``"s/i"``, ``"y/i"`` (lists of arrays shaped like the parameters)
    and ``"rho/i"`` for the pairs i = 0 (oldest) ... ; ``"n_iterations"``
    (accepted steps), ``"n_evaluations"`` (objective evaluations by the line
    search and by ``value_and_grad_from_state``: what scikit-learn's
    ``max_fun`` counts), ``"status"`` (0 running, 1 converged, 2 stalled: no
    decrease even along −∇𝓔, the rounding floor of 𝓔); and the point the step
    returned: ``"value"`` 𝓔, ``"grads"`` ∇𝓔 (the line search's last
    evaluation) and ``"params"``, a copy of θ, so that the next step need not
    evaluate 𝓔 and ∇𝓔 there again (``value_and_grad_from_state``).
    """

    memory: int = 10
    gtol: float = 1e-5
    ftol: float = 2.220446049250313e-09
    c1: float = 1e-4
    c2: float = 0.9
    max_line_search: int = 20
    name: ClassVar[str] = "lbfgs"
    needs_value_and_grad: ClassVar[bool] = True
    full_batch: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "memory", check_int(self.memory, "memory"))
        object.__setattr__(self, "gtol", check_real(self.gtol, "gtol", 0.0, math.inf))
        object.__setattr__(self, "ftol", check_real(self.ftol, "ftol", 0.0, math.inf))
        object.__setattr__(self, "c1", check_real(self.c1, "c1", 0.0, 1.0, low_open=True))
        object.__setattr__(self, "c2", check_real(self.c2, "c2", self.c1, 1.0, low_open=True))
        object.__setattr__(self, "max_line_search", check_int(self.max_line_search, "max_line_search"))

    def init(self, params: Sequence[Any]) -> dict[str, Any]:
        return {"n_iterations": 0, "n_evaluations": 0, "status": RUNNING}

    def converged(self, state: dict[str, Any]) -> bool:
        """Whether the last step converged or stalled: further steps would not move θ."""
        return state.get("status", RUNNING) != RUNNING

    def step(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        state: dict[str, Any],
        lr: float,
        *,
        value: Any,
        value_and_grad: Callable[[list[Any]], tuple[Any, list[Any]]],
    ) -> tuple[list[Any], dict[str, Any]]:
        """One iteration from θ = ``params`` with ∇𝓔(θ) = ``grads`` and 𝓔(θ) = ``value``.

        Along dᵏ = −Hₖ∇𝓔, then, if that is not a descent direction or its line
        search fails, once more from −∇𝓔 with an empty memory (a restart, as
        SciPy's); θ stays where no step decreases 𝓔 even then (stalled).
        """
        xp, pairs = namespace_of(*params), _memory(state)
        counts = {"n_iterations": state["n_iterations"], "n_evaluations": state["n_evaluations"]}
        for memory in [pairs, []] if pairs else [[]]:
            direction, (value0, slope0, largest, length) = _direction(xp, grads, memory, value)
            if memory and not slope0 < 0.0:  # rounding broke Hₖ's positive definiteness
                continue
            if largest <= self.gtol or not (slope0 < 0.0 and math.isfinite(value0 + slope0)):
                status = CONVERGED if largest <= self.gtol else RUNNING  # NaN or inf: fit reports it
                return list(params), _state(memory, counts, status, (value0, params, grads))
            phi = _restriction(xp, params, direction, value_and_grad)
            first = 1.0 if memory else 1.0 / length  # along −∇𝓔, a first step of length 1 (SciPy's)
            point, evaluations = strong_wolfe(
                phi, value0, slope0, first, c1=self.c1, c2=self.c2, max_evaluations=self.max_line_search
            )
            counts["n_evaluations"] += evaluations
            if point is not None:
                return self._accept(memory, counts, point, value0, slope0, direction, grads)
        return list(params), _state([], counts, STALLED, (value0, params, grads))

    def _accept(
        self,
        memory: Memory,
        counts: dict[str, int],
        point: Point,
        value0: float,
        slope0: float,
        direction: list[Any],
        grads: Sequence[Any],
    ) -> tuple[list[Any], dict[str, Any]]:
        """θ + αd of the line search's ``point``, and the state after that step."""
        trial, new_grads, largest = point.payload
        memory = self._remember(memory, point, slope0, direction, grads)
        small_decrease = value0 - point.value <= self.ftol * max(abs(value0), abs(point.value), 1.0)
        status = CONVERGED if largest <= self.gtol or small_decrease else RUNNING
        counts = {**counts, "n_iterations": counts["n_iterations"] + 1}
        return trial, _state(memory, counts, status, (point.value, trial, new_grads))

    def _remember(
        self, memory: Memory, point: Point, slope0: float, direction: list[Any], grads: Sequence[Any]
    ) -> Memory:
        """``memory`` with the pair of the step taken, s = αd and y = ∇𝓔(θ + αd) − ∇𝓔(θ), then
        its newest m pairs; unchanged when sᵀy = α(φ'(α) − φ'(0)) ≤ ε·(−αφ'(0)), ε of the dtype."""
        curvature = point.step * (point.slope - slope0)
        if not curvature > float(namespace_of(*grads).finfo(grads[0].dtype).eps) * point.step * -slope0:
            return memory
        s = [point.step * d for d in direction]
        y = [new - old for new, old in zip(point.payload[1], grads)]
        return [*memory, (s, y, 1.0 / curvature)][-self.memory :]


def _direction(xp: Any, grads: Sequence[Any], memory: Memory, value: Any) -> tuple[list[Any], list[float]]:
    """d = −Hₖ∇𝓔, and [φ(0), φ'(0) = ∇𝓔ᵀd, ‖∇𝓔‖∞, ‖d‖] read in one transfer."""
    direction = [-r for r in two_loop(xp, grads, memory)]
    value = xp.asarray(value, dtype=grads[0].dtype, device=array_api_compat.device(grads[0]))
    read = [value, dot(xp, grads, direction), _largest(xp, grads), xp.sqrt(dot(xp, direction, direction))]
    return direction, host_floats(xp, read)


def _restriction(
    xp: Any, params: Sequence[Any], direction: list[Any], value_and_grad: Callable[..., Any]
) -> Callable[[float], tuple[float, float, Any]]:
    """φ(α) = 𝓔(θ + αd): α ↦ (φ(α), φ'(α), (θ + αd, ∇𝓔(θ + αd), ‖∇𝓔(θ + αd)‖∞)), one read."""

    def phi(step: float) -> tuple[float, float, Any]:
        trial = [p + step * d for p, d in zip(params, direction)]
        value, grads = value_and_grad(trial)
        value, slope, largest = host_floats(xp, [value, dot(xp, grads, direction), _largest(xp, grads)])
        return value, slope, (trial, grads, largest)

    return phi


def _largest(xp: Any, vectors: Sequence[Any]) -> Any:
    """‖v‖∞ of a vector given as a list of arrays: a 0-d device array."""
    return xp.max(xp.stack([xp.max(xp.abs(v)) for v in vectors]))


def _memory(state: dict[str, Any]) -> Memory:
    """The pairs (s, y, ρ) of a state, oldest first."""
    count = sum(key.startswith("rho/") for key in state)
    return [(state[f"s/{i}"], state[f"y/{i}"], state[f"rho/{i}"]) for i in range(count)]


def _state(
    memory: Memory, counts: dict[str, int], status: int, point: tuple[float, Any, Any]
) -> dict[str, Any]:
    """A state holding ``memory`` under the keys s/i, y/i, rho/i, the scalars, and the point
    (𝓔, θ, ∇𝓔) that the step returns: 𝓔 as ``"value"``, ∇𝓔 as ``"grads"``, a copy of θ as
    ``"params"`` (the caller owns θ and may change it)."""
    value, params, grads = point
    xp = namespace_of(*params)
    state: dict[str, Any] = {**counts, "status": status, "value": value}
    state.update({"params": [xp.asarray(p, copy=True) for p in params], "grads": list(grads)})
    for i, (s, y, rho) in enumerate(memory):
        state.update({f"s/{i}": s, f"y/{i}": y, f"rho/{i}": rho})
    return state


def value_and_grad_from_state(
    params: Sequence[Any], state: Any, value_and_grad: Callable[[list[Any]], tuple[Any, list[Any]]]
) -> tuple[Any, list[Any], Any]:
    """𝓔(θ) and ∇𝓔(θ) at θ = ``params``, and the state to step from (as optax's function of this name).

    A state of ``LBFGS.step`` keeps 𝓔 and ∇𝓔 at the θ the step returned (the
    line search's last evaluation) beside a copy of that θ.  When ``params``
    equal that copy element for element (one read), they are returned and
    nothing is evaluated; otherwise (a first step, parameters set since, a
    state without them) ``value_and_grad(params)`` is called and counted in
    the state's ``"n_evaluations"``.  The caller must keep the objective the
    same from one step to the next (``without_evaluation`` drops what a state
    keeps when it changes).
    """
    if isinstance(state, dict) and "params" in state and _same(params, state["params"]):
        return state["value"], state["grads"], state
    value, grads = value_and_grad(list(params))
    if isinstance(state, dict) and "n_evaluations" in state:
        state = {**state, "n_evaluations": state["n_evaluations"] + 1}
    return value, grads, state


def without_evaluation(state: Any) -> Any:
    """``state`` without the evaluation of 𝓔 and ∇𝓔 it keeps (for another objective)."""
    if not isinstance(state, dict):
        return state
    return {key: value for key, value in state.items() if key not in ("params", "grads")}


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Whether two vectors (lists of arrays) have the same shapes and values, in one read."""
    if len(a) != len(b) or any(u.shape != v.shape for u, v in zip(a, b)):
        return False
    xp = namespace_of(*a)
    return host_floats(xp, [xp.all(xp.stack([xp.all(u == v) for u, v in zip(a, b)]))])[0] == 1.0
