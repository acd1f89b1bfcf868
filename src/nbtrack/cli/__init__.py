"""The ``nbtrack`` command line: a shell that parses, calls the core and prints.

``main`` (cli/main.py) holds the group and the run commands; data versions, models, production and interop
add their commands here.
"""

from nbtrack.cli.data import data_group
from nbtrack.cli.interop import COMMANDS as INTEROP_COMMANDS
from nbtrack.cli.main import main
from nbtrack.cli.models import models_group, score_command
from nbtrack.cli.monitor import compare_command, monitor_command, outcomes_command
from nbtrack.cli.production import COMMANDS as PRODUCTION_COMMANDS
from nbtrack.cli.remote import COMMANDS as REMOTE_COMMANDS

for _command in (
    *PRODUCTION_COMMANDS,
    data_group,
    models_group,
    score_command,
    monitor_command,
    *INTEROP_COMMANDS,
    *REMOTE_COMMANDS,
):
    main.add_command(_command)
models_group.add_command(outcomes_command)
models_group.add_command(compare_command)

__all__ = ["main"]
