"""Wan 2.1 (flow-matching video transformer) behind the family seam: not yet registered in
videodpo.families.FAMILIES; its toy model builders come first (toy.py)."""
