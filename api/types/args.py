"""Arguments shared by connection fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

From = Annotated[
    datetime | None,
    strawberry.argument(name="from", description="Only events at or after this time."),
]
To = Annotated[datetime | None, strawberry.argument(description="Only events before this time.")]
First = Annotated[int | None, strawberry.argument(description="Page size (default 20, max 100).")]
After = Annotated[str | None, strawberry.argument(description="The endCursor of the last page.")]
UnderCode = Annotated[
    str | None,
    strawberry.argument(
        description="Only those coded under this concept, at any depth of its code system's "
        "hierarchy: `system|code`, or a bare ICD-10-CM code or range (I21.4, I21, I20-I25). "
        "A code the graph does not have selects nothing."
    ),
]
