"""One repository's streams, polled once: the Events API, workflow runs and deployments (``poll``, with
``paging`` and ``deployments``), when runs and deployments are read (``sweep``), the extra lookups that
add detail (``enrich``, ``shipped``), and container images per owner (``images``, ``packages``)."""
