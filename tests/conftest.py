import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mergetool.core.mapping import MappingSet, load_mappings


@pytest.fixture(scope="session")
def shipped() -> MappingSet:
    return load_mappings()
