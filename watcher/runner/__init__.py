"""One cycle over every watch: observe, evaluate, act, inside one error boundary per watch.

``cycle`` loops over the watches; ``observe`` (with ``caches`` and ``readers``) is the read
side, ``act`` and ``deliver`` the write side, which observing never imports; ``boundary``
holds every place a run catches an exception; ``report`` and ``crash`` are what a run
hands back to the shells. See docs/architecture.md («Code map», «Invariants»).
"""
