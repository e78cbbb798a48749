"""``python -m hopdyn.bench NAME [--quick]``: run one benchmark and print its result as JSON.

``hopdyn bench`` runs every benchmark this way, each in a fresh process, so that no benchmark's
allocator or thread-pool state carries over into the next one's numbers.
"""
import json
import sys

from .._io import jsonable
from . import load_all

name, quick = sys.argv[1], "--quick" in sys.argv[2:]
print(json.dumps(jsonable(load_all()[name](quick))))
