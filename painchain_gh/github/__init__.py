"""Talking to GitHub: the REST client (``client``), GitHub App authentication (``app``), what each
integration authenticates with (``credentials``) and how fast each credential may send (``pacing``)."""
