"""The worker: starting it, its serve loop (``python -m core.worker``) and search children.

Only the serve loop and the search child reach ``core.engine``; ``core.worker.launch`` and
the study services here are light enough for the UI process.
"""
