"""`labelkit lfs`: the report a domain expert iterates on."""
from __future__ import annotations

import json

import click

from labelkit.cli.common import config_options, handle_errors, load
from labelkit.settings.config import LFConfig
from labelkit.settings.declare import declared


@click.command("lfs")
@config_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--examples", type=int, default=None, help="Example rows per LF and kind (default: lfs.examples).")
@click.option("--lf-errors", type=click.Choice(declared(LFConfig)["on_error"].choices),
              help="An LF that raises: stop, or count the row as an abstain.")
@click.option("--suggest-similar", "suggest", is_flag=False, flag_value="tfidf", default=None, metavar="[MODEL]",
              help="Propose similarity rules (seeds + threshold per class) from the dev rows every LF abstains on; "
                   "MODEL: tfidf (default), wordllama, minilm or a model folder.")
@handle_errors
def lfs_cli(config, sets, as_json, examples, lf_errors, suggest):
    """Per LF: polarity, coverage, overlaps, conflicts, accuracy on the gold dev split, and example
    rows where it fires, where it is wrong on dev and where it conflicts with other LFs.

    \b
    Example:
      labelkit lfs                         # bundled example
      labelkit lfs my_task/labelkit.toml --json > lfs.json
    """
    from labelkit.pipeline.lf_report import lf_report

    cfg = load(config, sets, {"lfs.on_error": lf_errors, "lfs.examples": examples})
    report = lf_report(cfg, suggest_similar=suggest)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    from labelkit.cli.tables import lf_table, lf_examples_text

    click.echo(lf_table(report))
    click.echo(lf_examples_text(report))
    for note in report.get("similarity_checks", []):
        click.echo(f"warning: {note}")
    if suggest:
        from labelkit.lfs.similar import suggestion_rule_toml

        found = report.get("similar_suggestions", [])
        click.echo(f"\nSimilarity rules suggested from the dev rows every LF abstains on ({suggest}; paste into a rules "
                   f"file and check them in `labelkit studio`):" if found else
                   "\nNo similarity rule to suggest: no class has enough uncovered dev rows with a threshold that keeps "
                   "dev precision >= 0.8.")
        for suggestion in found:
            click.echo("\n" + suggestion_rule_toml(suggestion))
