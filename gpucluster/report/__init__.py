"""Images in, groups out: cluster folders, thumbnails, projections, the HTML report
and a k-means animation. Pillow is imported only by the functions that draw."""

from .animate import animate_kmeans
from .html import write_report
from .organize import organize
from .projection import project_2d
from .thumbnails import make_thumbnails

__all__ = ["animate_kmeans", "make_thumbnails", "organize", "project_2d", "write_report"]
