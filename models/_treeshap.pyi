"""Types of the C extension models/_treeshap.c (see its comments for the arguments)."""

from typing import Any

def prepare(n_features: int, node_feature: Any, threshold: Any, node_flags: Any, cat_row: Any,
            cat_left: Any, cat_width: int, path_depth: Any, path_base: Any, path_group: Any,
            group_cond: Any, cond_node: Any, cond_right: Any, group_feature: Any,
            table: Any) -> object: ...
def block(handle: object, X: Any, out: Any, n_rows: int) -> None: ...
