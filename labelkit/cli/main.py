"""`labelkit`: the command group. Commands are imported only when run, so --help is fast."""
from __future__ import annotations

import importlib
import warnings

import click

COMMANDS = {
    "build": ("labelkit.cli.build", "build_cli", "Run the whole pipeline and write data, model and report."),
    "lfs": ("labelkit.cli.lfs", "lfs_cli", "Report on the labeling functions: coverage, conflicts, dev accuracy."),
    "audit": ("labelkit.cli.audit", "audit_cli", "Find leaked, duplicated, test-log and mislabeled rows."),
    "compare": ("labelkit.cli.compare", "compare_cli", "Compare two builds on the same test data."),
    "label": ("labelkit.cli.label", "label_cli", "Probabilistic labels for a file larger than memory."),
    "repair": ("labelkit.cli.repair", "repair_cli", "Repair a guardrail through data: reweight, what to label, LF ideas."),
    "label-next": ("labelkit.cli.label_next", "label_next_cli", "Rows worth a human label next, from any pool."),
    "serve": ("labelkit.cli.serve", "serve_cli", "Serve a build over HTTP with its rules and challengers in shadow."),
    "shadow": ("labelkit.cli.shadow", "shadow_cli", "Shadow comparisons offline: `shadow replay FILE --primary RUN`."),
    "monitor": ("labelkit.cli.monitor", "monitor_cli", "Drift, disagreement and accuracy estimates over a request log."),
    "studio": ("labelkit.cli.studio", "studio_cli", "Local page to author rules with live feedback and review rows."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="labelkit")
def cli():
    """labelkit: turn labeling rules into training data, and say honestly whether a model beats them.

    \b
    Example:
      labelkit lfs                      # LF report for ./labelkit.toml (or the bundled example)
      labelkit build --out runs/demo    # audit, label model, end model, report
    """


def main() -> None:
    # Third-party deprecation chatter (scipy via snorkel, sklearn) is not the user's business.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    cli(prog_name="labelkit")


if __name__ == "__main__":
    main()
