"""seglib: customer segmentation, from raw exports to a stakeholder report.

The package is laid out as the pipeline. From the top: the running of it all
(``seglib.cli``, ``seglib.batch``, ``seglib.score``, ``seglib.runs``); the five stages,
each importing only the stages before it (``seglib.report``, ``seglib.profile``,
``seglib.cluster``, ``seglib.features``, ``seglib.ingest``); and the shared base
(``seglib.rendering``, ``seglib.engine``, ``seglib.artifacts``, ``seglib.config``,
``seglib.errors``). ``seglib.datasets`` (the synthetic demo data) stands apart.

``import seglib`` does no work and imports nothing; import the part you use
(``import seglib.ingest``). ``tests/test_architecture.py`` holds the layers.
"""

__version__ = "0.1.0"
