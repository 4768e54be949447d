"""The self-contained HTML report of a run: its data, the page, the SVG charts.
May import core.evaluation, core.models, core.images, core.storage and below."""
