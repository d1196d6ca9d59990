"""Every import statement of the library packages, read from the source (no import executed).

Why from the syntax tree: a layering rule must hold for imports inside functions and under
TYPE_CHECKING too, which importing the modules would not show.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("features", "simulator", "training", "monitoring", "serving", "retain")


@dataclass(frozen=True)
class Import:
    """`from target import names` (or `import target`) in `importer`, at `line`."""

    importer: str  # dotted module name of the importing file
    package: str  # dotted package the importing file belongs to
    target: str
    names: tuple[str, ...]
    line: int

    @property
    def where(self) -> str:
        return f"{self.importer.replace('.', '/')}.py:{self.line}"


def module_name(path: Path) -> tuple[str, str]:
    """(module, package) of a source file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        dotted = ".".join(parts[:-1])
        return dotted, dotted
    return ".".join(parts), ".".join(parts[:-1])


def is_package(dotted: str) -> bool:
    return (ROOT.joinpath(*dotted.split(".")) / "__init__.py").is_file()


def library_files() -> Iterator[Path]:
    for library in LIBRARIES:
        if (ROOT / library).is_dir():
            yield from sorted((ROOT / library).rglob("*.py"))


def imports() -> Iterator[Import]:
    """Absolute imports of the library packages by library modules."""
    for path in library_files():
        importer, package = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = tuple(alias.name for alias in node.names)
                yield Import(importer, package, node.module, names, node.lineno)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(importer, package, alias.name, (), node.lineno)
