"""Every random draw's seed: recorded, checked, and the only source of its randomness.

Both draws (the cases of a cycle and its moderation sample) take a generator built from
a seed that is stored with the draw, so anyone can reproduce it; never the global RNG.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from qaudit.errors import CycleError

if TYPE_CHECKING:
    import numpy as np

#: Seeds are whole numbers from 0 to MAX_SEED - 1.
MAX_SEED = 2**32


def seed_or_new(seed: int | None) -> int:
    """The seed a draw uses: the one given (checked), or a fresh one to be recorded."""
    if seed is None:
        return secrets.randbelow(MAX_SEED)
    if not 0 <= seed < MAX_SEED:
        raise CycleError(f"--seed must be a whole number from 0 to {MAX_SEED - 1}.")
    return seed


def generator(seed: int) -> np.random.Generator:
    import numpy as np

    return np.random.default_rng(seed)
