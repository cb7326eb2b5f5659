"""Built-in corpus plugins: one module per corpus (real-layout loader + stand-in writer)."""
