"""labelgate: self-hostable Rekognition Custom Labels."""

__version__ = "0.1.0"
