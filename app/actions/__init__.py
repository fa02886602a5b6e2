"""The studio's actions, one module per tab's work; :mod:`app.callbacks` lists them."""
