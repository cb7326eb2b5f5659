"""The leaderboard: tables of the results store (``collect``), rendered into a
folder of Markdown and PNGs (``write``)."""

from emobench.leaderboard.collect import Entry, Table, collect, row_identity
from emobench.leaderboard.render import (LEGEND, StoreNotFound, render_table, require_store,
                                         write)

__all__ = ["Entry", "LEGEND", "StoreNotFound", "Table", "collect", "render_table",
           "require_store", "row_identity", "write"]
