"""A task's data: splits loaded and validated (files, one labeled file split, WRENCH folders,
vote columns) and reviewers' corrections."""
