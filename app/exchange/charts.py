"""Charts as SVG, drawn with matplotlib (object API, no pyplot state: safe in worker threads).

Pure: figures in, SVG bytes out. Text stays text in the SVG (``svg.fonttype: none``), so
Vietnamese labels are rendered by the viewer's fonts with their diacritics.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

SVG_MEDIA_TYPE = "image/svg+xml"
_RC: dict[RcKeyType, Any] = {"svg.fonttype": "none", "svg.hashsalt": "ntm-tracker", "font.size": 10}


def _render(draw) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(7, 3.6), layout="constrained")
        draw(figure.add_subplot())
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def comma(value: float) -> str:
    """A tick or label as Vietnamese write numbers: ``15,5``, ``16``."""
    return f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")


def one_decimal(value: float) -> str:
    """A published figure: one decimal, decimal comma (``16,0``, ``15,4``)."""
    return f"{value:.1f}".replace(".", ",")


def _comma_ticks(ax) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: comma(value)))


def trend_svg(
    title: str, years: Sequence[int], averages: Sequence[Decimal | None], targets: Sequence[Decimal | None],
    ceiling: int | None = None,
) -> bytes:
    """Average criteria per commune per year, against the planned average (dashed). The y-axis runs
    from 0 to ``ceiling`` (the criteria count of the sets shown): 15,4 against 16,1 is drawn as the
    small step it is out of 19, not stretched over the whole chart."""

    def draw(ax) -> None:
        points = [(y, float(a)) for y, a in zip(years, averages, strict=True) if a is not None]
        plans = [(y, float(t)) for y, t in zip(years, targets, strict=True) if t is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="#1f77b4",
                    label="Bình quân tiêu chí/xã")
            for x, value in points:
                ax.annotate(one_decimal(value), (x, value), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=8)
        if plans:
            ax.plot([p[0] for p in plans], [p[1] for p in plans], linestyle="--", marker="_", color="#d62728",
                    label="Kế hoạch")
            for x, value in plans:
                ax.annotate(one_decimal(value), (x, value), textcoords="offset points", xytext=(0, -12), ha="center",
                            fontsize=8, color="#d62728")
        if not points and not plans:
            ax.text(0.5, 0.5, "Chưa có số liệu", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xlabel("Năm")
        ax.set_ylabel("Tiêu chí/xã")
        if years:
            ax.set_xticks(list(years))
        highest = max([*(p[1] for p in points), *(p[1] for p in plans), float(ceiling or 0), 1.0])
        ax.set_ylim(0, highest * 1.08)  # from 0: differences keep their true size
        _comma_ticks(ax)
        ax.grid(True, alpha=0.3)
        if points or plans:
            ax.legend(loc="lower right")

    return _render(draw)


def bands_svg(title: str, bands: Mapping[str, int]) -> bytes:
    """Communes per band of criteria met."""

    def draw(ax) -> None:
        labels = list(bands)
        counts = [bands[label] for label in labels]
        bars = ax.bar(labels, counts, color="#2ca02c")
        ax.bar_label(bars, labels=[str(c) for c in counts])
        ax.set_title(title)
        ax.set_xlabel("Số tiêu chí đạt")
        ax.set_ylabel("Số xã")
        ax.set_ylim(0, max([*counts, 1]) * 1.2)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # communes are whole
        ax.grid(True, axis="y", alpha=0.3)

    return _render(draw)
