"""Regenerate device_configs/demo_site/grids.geojson (the demo town's grid map).

The town is a 6x4 lattice of blocks with jittered inner corners, so that
neighbouring grids share exact borders (as surveyed grid maps do).
Run: python scripts/make_demo_grids.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from shapely.geometry import Polygon, mapping
from shapely.ops import unary_union

OUT = Path(__file__).resolve().parents[1] / "device_configs" / "demo_site" / "grids.geojson"
LON0, LAT0 = 120.2800, 31.4900  # south-west corner of the town
DLON, DLAT = 0.0070, 0.0065  # one block ≈ 665 m x 720 m
COLS, ROWS = 6, 4

COMMUNITIES = [
    # id, name, grids: (id, name, cells as (col,row)), households
    (
        "c-donghu",
        "东湖社区 Donghu Community",
        [
            ("g-donghu-01", "东湖一网格", [(0, 0), (0, 1)], 420),
            ("g-donghu-02", "东湖二网格", [(1, 0), (1, 1)], 380),
            ("g-donghu-03", "东湖三网格", [(0, 2), (0, 3)], 450),
            ("g-donghu-04", "东湖四网格", [(1, 2), (1, 3)], 360),
        ],
    ),
    (
        "c-qingshan",
        "青山村 Qingshan Village",
        [
            ("g-qingshan-01", "青山一网格", [(2, 0), (2, 1)], 310),
            ("g-qingshan-02", "青山二网格", [(3, 0), (3, 1)], 290),
            ("g-qingshan-03", "青山三网格", [(2, 2), (2, 3)], 330),
            ("g-qingshan-04", "青山四网格", [(3, 2), (3, 3)], 300),
        ],
    ),
    (
        "c-gongye",
        "工业园社区 Industrial Park Community",
        [
            ("g-gongye-01", "工业园一网格", [(4, 0), (4, 1)], 350),
            ("g-gongye-02", "工业园二网格", [(5, 0), (5, 1)], 320),
            ("g-gongye-03", "工业园三网格", [(4, 2), (4, 3)], 400),
            ("g-gongye-04", "工业园四网格", [(5, 2)], 180),
            ("g-gongye-05", "工业园五网格", [(5, 3)], 170),
        ],
    ),
]
LEADERS = {"g-donghu-01": "w-li-na", "g-qingshan-01": "w-wang-qiang", "g-gongye-01": "w-zhao-lei"}
MICRO = (
    "g-gongye-03",
    [
        ("m-gongye-03-a", "工业园三网格A微网格", (4, 2), 200),
        ("m-gongye-03-b", "工业园三网格B微网格", (4, 3), 200),
    ],
)


def lattice() -> dict[tuple[int, int], tuple[float, float]]:
    rng = random.Random(20261122)
    pts = {}
    for i in range(COLS + 1):
        for j in range(ROWS + 1):
            jitter = 0 < i < COLS and 0 < j < ROWS
            dx = rng.uniform(-0.18, 0.18) if jitter else 0.0
            dy = rng.uniform(-0.18, 0.18) if jitter else 0.0
            pts[(i, j)] = (round(LON0 + (i + dx) * DLON, 6), round(LAT0 + (j + dy) * DLAT, 6))
    return pts


def cell(pts: dict, c: int, r: int) -> Polygon:
    return Polygon([pts[(c, r)], pts[(c + 1, r)], pts[(c + 1, r + 1)], pts[(c, r + 1)]])


def feature(props: dict, geom) -> dict:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def main() -> None:
    pts = lattice()
    features = []
    community_geoms = []
    for cid, cname, grids in COMMUNITIES:
        geoms = []
        for gid, gname, cells, households in grids:
            g = unary_union([cell(pts, c, r) for c, r in cells])
            geoms.append(g)
            props = {"id": gid, "name": gname, "level": "grid", "parent": cid, "households": households}
            if gid in LEADERS:
                props["leader"] = LEADERS[gid]
            features.append(feature(props, g))
            if gid == MICRO[0]:
                for mid, mname, (c, r), hh in MICRO[1]:
                    features.append(
                        feature(
                            {
                                "id": mid,
                                "name": mname,
                                "level": "micro_grid",
                                "parent": gid,
                                "households": hh,
                            },
                            cell(pts, c, r),
                        )
                    )
        cgeom = unary_union(geoms)
        community_geoms.append(cgeom)
        features.append(
            feature({"id": cid, "name": cname, "level": "community", "parent": "s-qingshan"}, cgeom)
        )
    street = unary_union(community_geoms)
    features.append(
        feature(
            {"id": "s-qingshan", "name": "青山街道 Qingshan Street", "level": "street", "parent": "d-binhu"},
            street,
        )
    )
    minx, miny, maxx, maxy = street.bounds
    district = Polygon(
        [
            (minx - 0.02, miny - 0.02),
            (maxx + 0.02, miny - 0.02),
            (maxx + 0.02, maxy + 0.02),
            (minx - 0.02, maxy + 0.02),
        ]
    )
    features.append(
        feature({"id": "d-binhu", "name": "滨湖区 Binhu District", "level": "district"}, district)
    )
    order = {"district": 0, "street": 1, "community": 2, "grid": 3, "micro_grid": 4}
    features.sort(key=lambda f: (order[f["properties"]["level"]], f["properties"]["id"]))
    doc = {"type": "FeatureCollection", "name": "qingshan-demo-grids", "features": features}
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(features)} areas to {OUT}")


if __name__ == "__main__":
    main()
