"""``painchain-gh plan``: the cost model (``sizing``), the integrations grouped by credential
(``grouping``), and what is printed (``output``)."""
