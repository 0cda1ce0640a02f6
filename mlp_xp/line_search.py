"""Line searches: the step α of θ ← θ + α d along a descent direction d (seed 004).

Each search sees the objective only through φ(α) = 𝓔(θ + α d), a callable
that evaluates it (on the device) and returns host floats; the searches
compare those floats and never touch an array.  Given φ(0) and the slope
φ'(0) = ∇𝓔(θ)ᵀd < 0:

- ``backtracking``: Armijo's sufficient decrease φ(α) ≤ φ(0) + c α φ'(0), trying
  α = α₀, α₀ρ, α₀ρ², ... (φ only);
- ``strong_wolfe``: sufficient decrease and the strong curvature condition
  |φ'(α)| ≤ c₂ |φ'(0)|, by Nocedal & Wright's bracketing phase and zoom
  (*Numerical Optimization*, Algorithms 3.5 and 3.6) with cubic interpolation:
  the step quasi-Newton methods need, since it makes sᵀy > 0 (φ and φ');
- ``exact``: seed 004's αᵏ = argmin_{α>0} φ(α), bracketed, then located by
  Brent's method to a relative tolerance (φ only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

RATIO = (1.0 + math.sqrt(5.0)) / 2.0  # the golden ratio ≈ 1.618
GOLDEN = 2.0 - RATIO  # ≈ 0.382: the golden section of an interval


class Point(NamedTuple):
    """φ at a step α: the value, the slope φ'(α), and what the caller attached (e.g. ∇𝓔)."""

    step: float
    value: float
    slope: float
    payload: Any = None


def backtracking(
    phi: Callable[[float], float],
    value0: float,
    slope0: float,
    step: float,
    *,
    c: float = 1e-4,
    shrink: float = 0.5,
    max_shrinks: int = 30,
) -> float:
    """The first α of step, step·shrink, step·shrink², ... with φ(α) ≤ φ(0) + c α φ'(0).

    ``phi(α)`` returns φ(α) as a float; ``value0`` and ``slope0`` are φ(0) and
    φ'(0) < 0.  Returns 0.0 when none of the ``max_shrinks + 1`` trials qualifies.
    """
    for _ in range(max_shrinks + 1):
        if phi(step) <= value0 + c * step * slope0:
            return step
        step *= shrink
    return 0.0


@dataclass(frozen=True)
class _Wolfe:
    """The strong Wolfe conditions for φ(0) = ``value0``, φ'(0) = ``slope0`` < 0."""

    value0: float
    slope0: float
    c1: float
    c2: float

    def sufficient(self, p: Point, lo: Point) -> bool:
        """φ(α) ≤ φ(0) + c₁ α φ'(0), and below φ at ``lo`` (False for NaN)."""
        return p.value <= self.value0 + self.c1 * p.step * self.slope0 and p.value < lo.value

    def curvature(self, p: Point) -> bool:
        """|φ'(α)| ≤ −c₂ φ'(0)."""
        return abs(p.slope) <= -self.c2 * self.slope0


def strong_wolfe(
    phi: Callable[[float], tuple[float, float, Any]],
    value0: float,
    slope0: float,
    step: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evaluations: int = 20,
) -> tuple[Point | None, int]:
    """A step meeting the strong Wolfe conditions (Nocedal & Wright, Algorithm 3.5).

    Parameters
    ----------
    phi : callable
        ``phi(α) -> (φ(α), φ'(α), payload)``, floats and anything to keep.
    value0, slope0 : float
        φ(0) and φ'(0) < 0.
    step : float
        The first trial α₁ > 0.
    c1, c2 : float, 0 < c1 < c2 < 1
        The constants of sufficient decrease and of curvature.
    max_evaluations : int
        At most this many calls of ``phi``.

    Returns
    -------
    (Point or None, int)
        The accepted point and the number of evaluations.  If the budget runs
        out, the best point found with sufficient decrease (curvature not
        guaranteed), or None when there is none.

    Notes
    -----
    φ(α) ≤ φ(0) + c₁ α φ'(0) and |φ'(α)| ≤ c₂ |φ'(0)|.  Trial steps grow
    (cubic extrapolation, within [α + 1.1Δ, α + 4Δ] for the last increase Δ)
    until one is acceptable or an interval is known to hold acceptable steps;
    ``_zoom`` then narrows that interval.
    """
    wolfe, previous = _Wolfe(value0, slope0, c1, c2), Point(0.0, value0, slope0)
    for evaluations in range(1, max_evaluations + 1):
        point = Point(step, *phi(step))
        if not wolfe.sufficient(point, previous):
            return _zoom(phi, wolfe, previous, point, max_evaluations - evaluations, evaluations)
        if wolfe.curvature(point):
            return point, evaluations
        if point.slope >= 0.0:
            return _zoom(phi, wolfe, point, previous, max_evaluations - evaluations, evaluations)
        previous, step = point, _extrapolate(previous, point)
    return (previous if previous.step > 0.0 else None), max_evaluations


def _zoom(
    phi: Callable[[float], tuple[float, float, Any]],
    wolfe: _Wolfe,
    lo: Point,
    hi: Point,
    budget: int,
    evaluations: int,
) -> tuple[Point | None, int]:
    """Nocedal & Wright's zoom (Algorithm 3.6): ``lo`` has sufficient decrease and the
    lowest φ so far, and φ'(lo)(hi − lo) < 0; the interval between them holds a
    strong Wolfe step.  Each trial is the cubic's minimiser, or the midpoint
    when that falls within 10 % of the interval's width of either end."""
    for _ in range(budget):
        evaluations += 1
        step = _interpolate(lo, hi)
        point = Point(step, *phi(step))
        if not wolfe.sufficient(point, lo):
            hi = point
            continue
        if wolfe.curvature(point):
            return point, evaluations
        if point.slope * (hi.step - lo.step) >= 0.0:
            hi = lo
        lo = point
    return (lo if lo.step > 0.0 else None), evaluations


def _cubic_minimizer(a: Point, b: Point) -> float:
    """The minimiser of the cubic through φ and φ' at ``a`` and ``b`` (N&W eq. 3.59); NaN if none."""
    d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step)
    radicand = d1 * d1 - a.slope * b.slope
    if not math.isfinite(radicand) or radicand < 0.0:
        return math.nan
    d2 = math.copysign(math.sqrt(radicand), b.step - a.step)
    denominator = b.slope - a.slope + 2.0 * d2
    if denominator == 0.0:
        return math.nan
    return b.step - (b.step - a.step) * (b.slope + d2 - d1) / denominator


def _interpolate(lo: Point, hi: Point) -> float:
    """A trial step inside the interval between ``lo`` and ``hi``, away from its ends."""
    left, right = min(lo.step, hi.step), max(lo.step, hi.step)
    margin = 0.1 * (right - left)
    trial = _cubic_minimizer(lo, hi)
    if math.isfinite(trial) and left + margin <= trial <= right - margin:
        return trial
    return left + 0.5 * (right - left)


def _extrapolate(previous: Point, point: Point) -> float:
    """A longer trial step beyond ``point``: the cubic's minimiser, kept within
    [α + 1.1Δ, α + 4Δ] where Δ is the last increase of α."""
    increase = point.step - previous.step
    trial = _cubic_minimizer(previous, point)
    if not math.isfinite(trial):
        trial = point.step + 4.0 * increase
    return min(max(trial, point.step + 1.1 * increase), point.step + 4.0 * increase)


def exact(
    phi: Callable[[float], float],
    value0: float,
    step: float,
    *,
    xtol: float = 1.5e-8,
    max_evaluations: int = 100,
) -> tuple[float, float, int]:
    """Seed 004's exact step αᵏ = argmin_{α>0} φ(α), to a relative tolerance ``xtol``.

    Parameters
    ----------
    phi : callable
        ``phi(α) -> φ(α)``, a float.
    value0 : float
        φ(0).
    step : float
        A first trial α > 0, the scale of the search.
    xtol : float
        Relative tolerance on α; √ε of the arithmetic is the sensible floor, φ
        being flat to second order at its minimum.
    max_evaluations : int
        At most this many calls of ``phi``.

    Returns
    -------
    (α, φ(α), evaluations)
        α = 0.0 and φ(0) when no trial step decreases φ within the budget.

    Notes
    -----
    ``_bracket`` finds a < b < c with φ(b) < φ(0), φ(b) ≤ φ(a) and φ(b) ≤ φ(c);
    ``_brent`` then narrows [a, c] around the minimum by parabolic
    interpolation through the three lowest points, with golden-section steps
    where the parabola is not trusted (Brent 1973).  Where φ decreases all the
    way to the longest step the budget allows (a minimum at infinity, as for
    a sigmoid on separable data), that longest step is returned.
    """
    (a, b, c), evaluations = _bracket(phi, value0, step, max_evaluations)
    if b is None:
        return 0.0, value0, evaluations
    if c is None:
        return *b, evaluations
    (alpha, value), more = _brent(phi, a[0], c[0], b, xtol, max_evaluations - evaluations)
    return alpha, value, evaluations + more


Bracket = tuple[tuple[float, float], Any, Any]


def _bracket(phi: Callable[[float], float], value0: float, step: float, budget: int) -> tuple[Bracket, int]:
    """(a, φ(a)), (b, φ(b)), (c, φ(c)): a < b < c, φ(b) below φ(0), φ(a) and φ(c).

    From α = ``step``: while φ(α) ≥ φ(0) (or is NaN), α shrinks by the golden
    section towards 0; once below φ(0), α grows by the golden ratio until φ
    rises.  ``b`` is None if no step went below φ(0) within the budget, ``c``
    None if φ still decreased at the last step.
    """
    a, b, c, evaluations = (0.0, value0), (step, phi(step)), None, 1
    while not b[1] < value0:
        if evaluations == budget:
            return (a, None, None), evaluations
        c, b, evaluations = b, (GOLDEN * b[0], phi(GOLDEN * b[0])), evaluations + 1
    while c is None or c[1] < b[1]:
        if c is not None:
            a, b = b, c
        if evaluations == budget:
            return (a, b, None), evaluations
        grown = b[0] + RATIO * (b[0] - a[0])
        c, evaluations = (grown, phi(grown)), evaluations + 1
    return (a, b, c), evaluations


def _brent(
    phi: Callable[[float], float], a: float, c: float, best: tuple[float, float], xtol: float, budget: int
) -> tuple[tuple[float, float], int]:
    """The minimum of φ in [a, c] to ``xtol``, from its lowest known point ``best`` = (x, φ(x)).

    Keeps the three lowest points x, w, v and the last two steps; a step to the
    vertex of the parabola through x, w, v is taken when it lies inside
    [a, c] and is less than half the step before last (so the interval keeps
    shrinking), else a golden-section step into the larger half; no step is
    shorter than the tolerance.
    """
    x, fx = best
    w, fw, v, fv = x, fx, x, fx
    step, before = 0.0, 0.0
    for evaluations in range(budget):
        middle, tol = 0.5 * (a + c), xtol * abs(x)
        if abs(x - middle) <= 2.0 * tol - 0.5 * (c - a):
            return (x, fx), evaluations
        trial = _parabola_step(x, fx, w, fw, v, fv)
        if abs(trial) < 0.5 * abs(before) and a < x + trial < c:
            before, step = step, trial
            if min(x + trial - a, c - x - trial) < 2.0 * tol:  # near an end: tol towards the middle
                step = math.copysign(tol, middle - x)
        else:
            before = (c - x) if x < middle else (a - x)
            step = GOLDEN * before
        u = x + (step if abs(step) >= tol else math.copysign(tol, step))
        fu = phi(u)
        if fu <= fx:
            a, c = (a, x) if u < x else (x, c)
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
            continue
        a, c = (u, c) if u < x else (a, u)
        if fu <= fw or w == x:
            v, fv, w, fw = w, fw, u, fu
        elif fu <= fv or v in (x, w):
            v, fv = u, fu
    return (x, fx), budget


def _parabola_step(x: float, fx: float, w: float, fw: float, v: float, fv: float) -> float:
    """From x to the vertex of the parabola through (x, fx), (w, fw), (v, fv); NaN if there is none."""
    r, q = (x - w) * (fx - fv), (x - v) * (fx - fw)
    denominator = 2.0 * (q - r)
    if denominator == 0.0:
        return math.nan
    return -((x - v) * q - (x - w) * r) / denominator
