"""vcfviewer: a reading assistant for osteoporotic vertebral compression fractures."""

__version__ = "0.1.0"
