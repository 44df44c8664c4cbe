"""``collections``: the one operator command (Typer). Each group lives in its own module of
this package and is registered in ``app.py``."""
