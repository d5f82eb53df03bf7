"""One error hierarchy. The library raises these; only the CLI turns them into exit codes."""


class LabelkitError(Exception):
    """Base class: the message is one line that names the file/column/LF/row and the fix."""


class ConfigError(LabelkitError):
    """labelkit.toml or a command-line option is invalid."""


class DatasetError(LabelkitError):
    """A data file is missing, unreadable, empty or has bad columns/values."""


class LabelingFunctionError(LabelkitError):
    """A labeling function is invalid, raised, or returned something that is not a class."""


class LabelModelError(LabelkitError):
    """A label model cannot be fitted on the given votes."""


class CheckFailed(LabelkitError):
    """A --fail-on condition was met (guardrail, leakage, expectations...)."""
