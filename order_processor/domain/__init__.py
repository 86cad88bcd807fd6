"""Pure domain of the order processor: states, orders, risk chain, paper fills, charges, ledger.

Nothing here touches a database, Redis or HTTP; time comes in as arguments
(driven by a ``shared.clock.Clock``), money is ``Decimal``.
"""
