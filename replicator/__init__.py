"""replicator: mirror cloud accounting APIs into local replica stores.

Layers, imports pointing down only::

    cli, testing                     (top: user-facing and test kits)
    engine                           (scheduler, streams, writer, run loop)
    providers, auth, http, paging    (contracts and mechanisms providers compose)
    limits, decoding, stores         (budgets, record types, replica stores)
    errors, clock, types, config     (bottom)
"""

__version__ = "0.1.0"
