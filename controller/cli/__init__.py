"""Commands run from a shell: `python -m controller users ...`."""
