"""emobench's built-in plugins (imported as ``emobench_plugins``).

Each module is registered through the ``emobench`` entry-point group in
pyproject.toml, exactly as a third-party package would register its own.
"""
