"""Goods: the product list, donors and donations, stock lots and the acts that
move them (taking units, write-offs, transfers, stocktakes), and the checks of
the lot invariant."""
