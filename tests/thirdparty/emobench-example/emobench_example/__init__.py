"""An out-of-tree emobench plugin package used by emobench's own tests and docs."""
