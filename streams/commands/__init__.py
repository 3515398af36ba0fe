"""The operator's commands behind ``leadscore``: one module each, with ``add_arguments(sub)``
registering its subcommand (``streams.cli`` collects them) and the argparse helpers they share
in ``args``. May import: ``streams.core``, ``streams.runtime``, ``streams.settings``,
``streams.local``, ``streams.worker`` (only ``worker`` runs it), ``streams.integrations``
(``pager``, ``crmsync``), ``models``, ``schemas``.
"""
