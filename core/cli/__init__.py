"""``python -m core``: one module per command, sharing one parser for common flags."""
