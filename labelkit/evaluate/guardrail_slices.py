"""The slices a repair works on: the build's fired guardrails (or the ones named with --slice),
each turned into a row mask on any split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelkit.errors import ConfigError


@dataclass(frozen=True)
class Slice:
    kind: str  # column / auto / function (as in the build's slice table)
    column: str  # the column, or the slicing function's name
    value: str  # the column's value ("true" for a slicing function)

    @property
    def name(self) -> str:
        return self.column if self.kind == "function" else f"{self.column}={self.value}"

    def mask(self, frame: pd.DataFrame, slicing_functions=()) -> np.ndarray:
        """Which rows of `frame` are in the slice."""
        if self.kind == "function":
            from labelkit.evaluate.slices import slicing_function_name, slicing_mask

            found = [f for f in slicing_functions if slicing_function_name(f) == self.column]
            if not found:
                raise ConfigError(f"Slicing function {self.column!r} is no longer in the LF modules; "
                                  f"restore it or repair another slice.")
            return slicing_mask(found[0], frame) if len(frame) else np.zeros(0, dtype=bool)
        if self.column not in frame.columns:
            raise ConfigError(f"Slice column {self.column!r} is not in the data; columns are: "
                              f"{', '.join(map(str, frame.columns))}.")
        values = frame[self.column]
        return (values.astype(str).to_numpy() == self.value) & values.notna().to_numpy()


def fired_slices(results) -> list[Slice]:
    """The slices whose guardrail fired in a build's results (labelkit.results.BuildResults), worst gap first."""
    return [Slice(g.kind or "column", str(g.column), str(g.value)) for g in results.guardrails]


def choose_slices(results, wanted: tuple[str, ...] = (), *, slicing_functions=()) -> list[Slice]:
    """The fired guardrails, or those named in `wanted` ("column=value" or a slicing function's name).
    A named slice that did not fire is still repaired (the user asked for it)."""
    fired = fired_slices(results)
    if not wanted:
        return fired
    names = {s.name: s for s in fired}
    functions = {getattr(f, "name", None) for f in slicing_functions}
    chosen = []
    for text in wanted:
        text = text.strip()
        if text in names:
            chosen.append(names[text])
        elif "=" in text:
            column, value = (part.strip() for part in text.split("=", 1))
            chosen.append(Slice("column", column, value))
        elif text in functions:
            chosen.append(Slice("function", text, "true"))
        else:
            known = ", ".join(sorted(names) + sorted(n for n in functions if n)) or "none"
            raise ConfigError(f"--slice {text!r}: write column=value (e.g. country=FR) or a slicing function's "
                              f"name; fired guardrails and slicing functions are: {known}.")
    return list(dict.fromkeys(chosen))
