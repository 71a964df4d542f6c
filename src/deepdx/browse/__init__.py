"""The bank browser: one static HTML page of banks, their voices, previews and nearest
training voices, and the evaluation's figures (see :mod:`deepdx.browse.build`)."""
