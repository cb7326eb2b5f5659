"""The plugin guide must cover every hook a plugin can implement."""

import inspect
import re
from pathlib import Path

from emobench import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_hookspec_is_documented_in_the_plugin_guide():
    guide = (DOCS / "plugins.md").read_text()
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("emobench_")]
    assert len(hooks) >= 3
    missing = [h for h in hooks if not re.search(rf"`{h}\(", guide)]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"


def test_guide_example_package_exists():
    guide = (DOCS / "plugins.md").read_text()
    for rel in re.findall(r"\]\((\.\./tests/thirdparty/[^)]+)\)", guide):
        assert (DOCS / rel).resolve().exists(), rel
