"""Start-up of a process that only scores: LightGBM without the optional libraries it would load.

``import lightgbm`` imports scikit-learn and pandas when they are installed, for its
scikit-learn estimators and DataFrame inputs. Scoring uses neither (a ``Booster`` predicts on
NumPy rows), and those two imports are most of the seconds the CLI took to score one message.
A process that only scores calls :func:`import_lightgbm_for_scoring` before anything else
imports lightgbm: lightgbm then finds them absent (its own fallback for installations without
them) and both stay importable for anything else in the process. Never call it in a process
that trains: lightgbm's estimators and DataFrame inputs would be unavailable there.

Scoring itself no longer imports LightGBM (the scorer evaluates the model text with
:mod:`detection.serving.forest`); only TreeSHAP reasons (``--attribution shap``) still do.
"""

from __future__ import annotations

import sys
from types import ModuleType

SKIPPED = ("sklearn", "pandas")


def import_lightgbm_for_scoring() -> ModuleType:
    """``lightgbm``, imported without scikit-learn and pandas unless they are already loaded."""
    if "lightgbm" in sys.modules:
        return sys.modules["lightgbm"]
    blocked = [name for name in SKIPPED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import lightgbm
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
    return lightgbm
