"""`labelkit build`: the pipeline (load -> audit -> LFs -> label model -> end model -> evaluate ->
summarize -> write), its stages, the build's checks of itself, scoring on test and the writers."""
