"""The public complaint categories (shared/categories.yaml): what a citizen may choose, the web intake's Open311
services, and the codes routing rules may name. Data, not code."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

CATEGORIES_FILE = Path(__file__).parent / "categories.yaml"
OTHER = "lainnya"  # what a complaint filed without a category counts as


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    name: str = Field(min_length=3, max_length=100)
    description: str = Field(min_length=3, max_length=400)
    group: str = Field(min_length=3, max_length=40)
    keywords: str = Field(default="", max_length=200)


@functools.cache
def categories(path: Path = CATEGORIES_FILE) -> dict[str, Category]:
    """code -> category, in the file's order. A file without "lainnya" or with a code twice is refused."""
    listed = yaml.safe_load(path.read_text(encoding="utf-8"))["categories"]
    entries = TypeAdapter(list[Category]).validate_python(listed)
    found = {entry.code: entry for entry in entries}
    if len(found) != len(entries) or OTHER not in found:
        raise ValueError(f"{path}: every code once, and {OTHER!r} among them")
    return found
