"""Teaches any Hydra process that scans this folder (DVC does: ``hydra.plugins_path = src`` in
.dvc/config) DeepDX's typed config, which ``conf/config.yaml`` starts from.

Hydra imports every module under ``hydra_plugins`` when it looks for plugins; importing this
one registers the schema in Hydra's ConfigStore.  It defines no plugin of its own.
"""

from deepdx.config import register

register()
