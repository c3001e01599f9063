"""The model layer: zoo, inference, metrics and training (torch is imported lazily inside it)."""
