"""One module per command group; each registers its commands when imported.

To add a group (``peering``, ``config`` …) create ``consul_sim/cli/commands/<group>.py`` that calls
``group("peering", synopsis, usage)`` and decorates each command class with
``@register("peering establish")``. ``consul_sim.cli.command.load_commands()`` imports every
module here in name order, so no other file needs editing.
"""
