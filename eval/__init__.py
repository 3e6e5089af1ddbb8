"""The public evaluation set for drafters: cases.toml, the runner (run.py) and its floors."""
