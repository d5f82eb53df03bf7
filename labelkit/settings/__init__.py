"""Settings declared once: declare.py (a setting: type, choices, range, help), config.py (labelkit.toml
-> Config, env and --set overrides), options.py (the commands' options), reference.py (docs/settings.md)."""
