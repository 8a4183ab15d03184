"""Print the shell commands of README.md, one per line, for CI to run (issue 12, item 13).

Every line of every ```bash block is a command; ``# ...`` comments are dropped.
``tests/test_readme.py`` reads the same list.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(text: str | None = None) -> list[str]:
    """The README's shell command lines, in order, without trailing comments."""
    text = README.read_text("utf-8") if text is None else text
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for raw in block.splitlines():
            line = re.sub(r"\s+#.*$", "", raw).strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


if __name__ == "__main__":
    sys.stdout.write("".join(f"{c}\n" for c in commands()))
