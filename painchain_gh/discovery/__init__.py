"""Repository discovery (App installations, ``owner/*``): reading a listing page by page (``listing``),
what is kept of it between runs (``cache``), listings read beside a sync's polling (``tasks``), and the
stored lists read without a sync (``stored``, for ``plan``)."""
