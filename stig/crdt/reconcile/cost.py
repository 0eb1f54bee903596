"""How many sub-ranges a differing range is split into: the density estimate and the split
cost model (docs/sync.md §4.5). Choices of stig's, not of the wire format: peers with other
choices interoperate."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

MAX_BRANCHES = 512
"""Most sub-ranges one differing range is split into."""

ALL_DIFFER_LAMBDA_BASE = 2.0
ALL_DIFFER_LAMBDA_PER_LOG = 2.0
"""When no compared range of a frame is equal, the number of differences per range is only
bounded below; it is then taken as BASE + PER_LOG * ln(number of ranges) (10 for 64
ranges). The cost of a split is flat around its optimum, so a rough guess costs little."""

DENSITY_MIN = 1e-9
DENSITY_MAX = 1.0
DENSITY_STEPS = 30
"""The density estimate is searched between these (differences per item), in this many
halvings of the log interval (to within 2 %)."""

MULTI_DIFFERENCES = 2.5
"""Differences assumed in a range whose digest could not be decoded (it holds at least two)."""

# The split cost model (branches): approximate bytes of each outcome for one sub-range.
DIGEST_RANGE_COST = 21  # bound, mode, fingerprint, count, sum
SINGLE_COST = 15  # a decoded difference: a found range, or a claim and its answer, on average
LIST_ITEM_COST = 5  # a listed item: its prefix and its share of the reply
LIST_RANGE_COST = 30  # the fixed part of an id list and its reply

# -- the density estimate and the split cost model ------------------------------------------------


def estimate_density(equal_items: int, differing: list[int]) -> float:
    """Estimated differences per item: the maximum-likelihood rate rho of a Poisson process
    over our items, given ``equal_items`` items in ranges without a difference and ranges of
    the sizes in ``differing`` with at least one. It solves
    sum(m / (exp(rho * m) - 1) for m in differing) = equal_items (the left side falls as rho
    grows), by bisection on a log scale."""
    sizes = Counter(m for m in differing if m)
    if not sizes:
        return 0.0
    if not equal_items:
        # No range was equal: the likelihood grows without bound, only a guess is left.
        ranges = sum(sizes.values())
        per_range = ALL_DIFFER_LAMBDA_BASE + ALL_DIFFER_LAMBDA_PER_LOG * math.log(ranges)
        return per_range * ranges / sum(m * c for m, c in sizes.items())

    def excess(rho: float) -> float:
        # m / (e^x - 1) written as m e^-x / (1 - e^-x): no overflow for large x.
        terms = (c * m * math.exp(-rho * m) / -math.expm1(-rho * m) for m, c in sizes.items())
        return sum(terms) - equal_items

    low, high = DENSITY_MIN, DENSITY_MAX
    if excess(high) > 0:
        return high
    for _ in range(DENSITY_STEPS):
        mid = math.sqrt(low * high)
        if excess(mid) > 0:
            low = mid
        else:
            high = mid
    return math.sqrt(low * high)


def expected_differences(mu: float) -> float:
    """Expected differences in a range that differs, if it held ``mu`` on average before."""
    if mu < 1e-9:
        return 1.0
    return mu / -math.expm1(-mu)


_BRANCH_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def branches(m: int, mu: float, min_k: int) -> int:
    """How many digested sub-ranges to split a differing range of m items into, given ``mu``
    differences expected in it a priori: the k of least expected bytes, counting k digests, one
    cheap resolution per sub-range left with a single difference, and an id list of each
    sub-range left with several (differences as a Poisson process, given at least one).

    Called for every range of a frame that is split (up to MAX_FRAME_RANGES), so it is cached
    and its search stops early: a choice's cost is at least its k digests, so once k * 21
    bytes reach the best cost so far no larger k can be cheaper. Both give the same k as the
    full search (the same floating-point operations on the choices it makes)."""
    return _branches(m, mu, min_k)


@lru_cache(maxsize=4096)
def _branches(m: int, mu: float, min_k: int) -> int:
    p_any = -math.expm1(-mu)
    exp, expm1 = math.exp, math.expm1
    top = min(m, MAX_BRANCHES)
    best_k, best_cost = min_k, math.inf
    for k in _BRANCH_CHOICES:
        if k < min_k:
            continue
        if k > top or k * DIGEST_RANGE_COST >= best_cost:
            break
        lam = mu / k
        single = lam * exp(-lam)
        several = -expm1(-lam) - single
        cost = k * DIGEST_RANGE_COST + k / p_any * (
            single * SINGLE_COST + several * (LIST_ITEM_COST * m / k + LIST_RANGE_COST)
        )
        if cost < best_cost:
            best_k, best_cost = k, cost
    return best_k
