"""Repairing a guardrail through data: reweight the slice and retrain, say what to label next, and
offer candidate LFs. `repair_run(RUN, out=NEW)` is `labelkit repair RUN --out NEW`."""
from labelkit.repair.plan import LABEL_NEXT, RepairOutcome, repair_run
from labelkit.repair.reweight import CLASS_WEIGHTS, DEFAULT_CLASS_WEIGHTS, MAX_OVERALL_LOSS, STRATEGIES, WEIGHTS
from labelkit.evaluate.guardrail_slices import Slice, choose_slices

__all__ = ["CLASS_WEIGHTS", "DEFAULT_CLASS_WEIGHTS", "LABEL_NEXT", "MAX_OVERALL_LOSS", "STRATEGIES", "WEIGHTS",
           "RepairOutcome", "Slice", "choose_slices", "repair_run"]
