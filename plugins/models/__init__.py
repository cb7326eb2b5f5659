"""Built-in model plugins: one module per architecture, plus honest baselines."""
