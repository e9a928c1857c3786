"""The grid roster card (一长三员): who a resident calls in this grid, as a page and as a PDF.

Everything comes from the site's configuration: the grid's outline (grids.geojson), its leader
(网格长: ``leader`` in grids.geojson, else the grid's workers of role grid_leader), its guides
(网格指导员: ``guides`` in grids.geojson — community cadres or the community police officer, not
GridWatch workers), its full-time and part-time workers (workers.yaml). A phone number is shown
only where the site marks it public (``phone_public: true``); the others read "—".

The PDF is drawn with fpdf2 (pure Python, on PyPI, maintained; it embeds a subset of the system's
CJK font, so names stay text — searchable, copyable, sharp at any size) and the QR code to the
residents' page (群众吹哨) with segno (pure Python). No browser on the server: a print-to-PDF
through headless Chromium would work too, but would make the API depend on a browser process
that can hang, leak and be missing on a slim server image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import segno
from fpdf import FPDF
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from contracts.site import Site
from contracts.site.models import GridLevel, WorkerRole

FONT_ENV = "GRIDWATCH_ROSTER_FONT"
ROLE_ORDER = ("leader", "guide", "full_time", "part_time")
ROLE_WORDS = {
    "leader": ("网格长", "Grid leader"),
    "guide": ("网格指导员", "Grid guide"),
    "full_time": ("专职网格员", "Full-time grid worker"),
    "part_time": ("兼职网格员", "Part-time grid worker"),
}


class RosterFontMissing(RuntimeError):
    """No font with Chinese glyphs: the PDF cannot be drawn (the message says how to fix it)."""


@dataclass(frozen=True)
class Member:
    role: str  # leader, guide, full_time, part_time
    name: str
    title: str  # a guide's own title (社区民警 ...), else ""
    phone: str  # "" unless the site marks it public


@dataclass(frozen=True)
class Roster:
    grid_id: str
    grid_name: str
    community: str
    street: str
    households: int | None
    members: list[Member]
    outline: BaseGeometry
    neighbours: list[BaseGeometry] = field(default_factory=list)  # the community's other grids


def roster_of(site: Site, grid_id: str) -> Roster:
    grid = site.areas[grid_id]
    workers = [w for w in site.workers.values() if w.home_grid == grid_id]
    leaders = [site.workers[grid.leader]] if grid.leader and grid.leader in site.workers else []
    leaders += [w for w in workers if w.role is WorkerRole.GRID_LEADER and w not in leaders]
    members = [Member("leader", w.name, "", w.phone if w.phone_public else "") for w in leaders]
    members += [Member("guide", g.name, g.title, g.phone if g.phone_public else "") for g in grid.guides]
    for role, kind in ((WorkerRole.FULL_TIME, "full_time"), (WorkerRole.PART_TIME, "part_time")):
        members += [
            Member(kind, w.name, "", w.phone if w.phone_public else "")
            for w in sorted(workers, key=lambda w: w.id)
            if w.role is role and w not in leaders
        ]
    community = site.ancestor(grid_id, GridLevel.COMMUNITY)
    street = site.ancestor(grid_id, GridLevel.STREET)
    neighbours = [
        a.geometry
        for a in site.grids
        if a.id != grid_id and community is not None and a.parent == community.id
    ]
    return Roster(
        grid_id=grid.id,
        grid_name=grid.name,
        community=community.name if community else "",
        street=street.name if street else "",
        households=grid.households,
        members=members,
        outline=grid.geometry,
        neighbours=neighbours,
    )


def qr_rows(url: str) -> list[str]:
    """The QR code of ``url`` as rows of "1" (dark) and "0", quiet zone included."""
    code = segno.make(url, error="m")
    return ["".join("1" if cell else "0" for cell in row) for row in code.matrix_iter(scale=1, border=2)]


@cache
def cjk_font() -> tuple[str, int]:
    """(file, face index) of a font with Chinese glyphs: GRIDWATCH_ROSTER_FONT ("path[:index]"),
    else what fontconfig picks for Simplified Chinese."""
    wanted = os.environ.get(FONT_ENV, "").strip()
    if wanted:
        path, _, index = wanted.partition(":")
        if not Path(path).is_file():
            raise RosterFontMissing(
                f"{FONT_ENV}={wanted!r}: no such font file (fix: give the path of a .ttf/.otf/.ttc)"
            )
        return path, int(index or 0)
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}:%{index}", "Noto Sans CJK SC:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        path, _, index = found.rpartition(":")
        if path and Path(path).is_file() and _has_chinese(path, int(index or 0)):
            return path, int(index or 0)
    raise RosterFontMissing(
        "no font with Chinese glyphs for the roster card's PDF "
        f"(fix: apt install fonts-noto-cjk, or set {FONT_ENV}=/path/to/font.ttc:index)"
    )


def _has_chinese(path: str, index: int) -> bool:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(path, fontNumber=index, lazy=True)
        return ord("网") in font.getBestCmap()
    except Exception:
        return False


# --------------------------------------------------------------------------------- the PDF
def roster_pdf(roster: Roster, site_name: str, report_url: str, made: str) -> bytes:
    """An A4 card to print and hang: the grid's outline, 一长三员 with their public phones, the QR
    code of the residents' page."""
    path, index = cjk_font()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"{roster.grid_name} 网格公示牌")
    pdf.add_page()
    pdf.add_font("cjk", fname=path, collection_font_number=index)
    pdf.set_font("cjk", size=26)
    pdf.set_text_color(15, 27, 45)
    pdf.set_xy(15, 14)
    pdf.cell(180, 12, f"{roster.grid_name} · 网格公示牌", align="C")
    pdf.set_font("cjk", size=12)
    pdf.set_text_color(80, 80, 80)
    pdf.set_xy(15, 28)
    where = " · ".join(x for x in (roster.street, roster.community) if x)
    if roster.households:
        where += f" · {roster.households} 户"
    pdf.cell(180, 7, where, align="C")
    _outline(pdf, roster, 15, 40, 180, 95)
    _members(pdf, roster, 15, 143)
    _qr(pdf, qr_rows(report_url), 150, 222, 45)
    pdf.set_font("cjk", size=13)
    pdf.set_text_color(15, 27, 45)
    pdf.set_xy(15, 226)
    pdf.multi_cell(
        128,
        8,
        "群众吹哨：发现安全隐患（火情烟雾、燃气泄漏、违规生产、厂房住人），\n扫码上报，网格员会上门核实处理。",
    )
    pdf.set_font("cjk", size=9)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(15, 250)
    pdf.multi_cell(128, 5, report_url)
    pdf.set_xy(15, 280)
    pdf.cell(180, 6, f"{site_name} · {made}", align="C")
    return bytes(pdf.output())


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return []


def _outline(pdf: FPDF, roster: Roster, x: float, y: float, w: float, h: float) -> None:
    import math

    shapes = [roster.outline, *roster.neighbours]
    minx = min(s.bounds[0] for s in shapes)
    miny = min(s.bounds[1] for s in shapes)
    maxx = max(s.bounds[2] for s in shapes)
    maxy = max(s.bounds[3] for s in shapes)
    # metres east and north are not the same degrees: scale longitude by cos(latitude)
    kx = math.cos(math.radians((miny + maxy) / 2))
    span_x, span_y = (maxx - minx) * kx or 1e-9, (maxy - miny) or 1e-9
    scale = min(w / span_x, h / span_y) * 0.92
    ox = x + (w - span_x * scale) / 2
    oy = y + (h - span_y * scale) / 2

    def points(poly: Polygon) -> list[tuple[float, float]]:
        return [(ox + (px - minx) * kx * scale, oy + (maxy - py) * scale) for px, py in poly.exterior.coords]

    pdf.set_line_width(0.3)
    pdf.set_draw_color(150, 165, 185)
    pdf.set_fill_color(240, 243, 247)
    for shape in roster.neighbours:
        for poly in _polygons(shape):
            pdf.polygon(points(poly), style="DF")
    pdf.set_line_width(1.0)
    pdf.set_draw_color(11, 87, 208)
    pdf.set_fill_color(212, 228, 252)
    for poly in _polygons(roster.outline):
        pdf.polygon(points(poly), style="DF")
    c = roster.outline.centroid
    pdf.set_font("cjk", size=14)
    pdf.set_text_color(11, 60, 150)
    cx, cy = ox + (c.x - minx) * kx * scale, oy + (maxy - c.y) * scale
    pdf.set_xy(cx - 40, cy - 4)
    pdf.cell(80, 8, roster.grid_name, align="C")


def _members(pdf: FPDF, roster: Roster, x: float, y: float) -> None:
    pdf.set_draw_color(200, 205, 212)
    pdf.set_line_width(0.3)
    row = 9.0
    widths = (48, 80, 52)
    pdf.set_font("cjk", size=11)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(x, y)
    for text, width in zip(("职责", "姓名", "电话"), widths, strict=True):
        pdf.cell(width, row, text, border="B")
    y += row
    pdf.set_text_color(17, 17, 17)
    members = roster.members or [Member("full_time", "—", "", "")]
    for member in members[:8]:  # the card holds eight lines; a grid has one leader and a few workers
        pdf.set_xy(x, y)
        pdf.set_font("cjk", size=12)
        pdf.cell(widths[0], row, ROLE_WORDS[member.role][0], border="B")
        pdf.set_font("cjk", size=15)
        name = member.name + (f"（{member.title}）" if member.title else "")
        pdf.cell(widths[1], row, name, border="B")
        pdf.cell(widths[2], row, member.phone or "—", border="B")
        y += row


def _qr(pdf: FPDF, rows: list[str], x: float, y: float, size: float) -> None:
    cell = size / len(rows)
    pdf.set_fill_color(0, 0, 0)
    for r, line in enumerate(rows):
        c = 0
        while c < len(line):  # one rectangle per run of dark modules: no hairlines between them
            if line[c] != "1":
                c += 1
                continue
            end = c
            while end < len(line) and line[end] == "1":
                end += 1
            pdf.rect(x + c * cell, y + r * cell, (end - c) * cell, cell, style="F")
            c = end
