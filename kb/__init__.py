"""襄垣县预算绩效指标库 — the domain: models, schemas, services and YAML I/O (no Flask here)."""
from pathlib import Path

#: The folder holding the YAML seed (``departments/``) and reference data (``indicators/``).
SEED_DIR = Path(__file__).resolve().parent
