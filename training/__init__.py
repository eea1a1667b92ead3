"""Training and dataset building (adapters, static model, fusion tuning): never imported by serving."""
