"""Entry point of ``panel serve``: the app on the root given by ``--args ROOT`` or ``$THALIA_ROOT``.

The mode comes from the URL: ``/main`` explores, ``/main?mode=annotate`` corrects masks and labels.

    panel serve thalia_viewer/app/main.py --args data/default
    THALIA_ROOT=data/default panel serve thalia_viewer/app/main.py --num-procs 4 --basic-auth creds.json \
        --cookie-secret SECRET --setup thalia_viewer/app/warm.py   # roles: THALIA_ROLES=roles.yaml
"""

import os
import sys

import panel as pn

from thalia_viewer.app.data import root_from
from thalia_viewer.app.explorer import create_app, requested_mode
from thalia_viewer.app.extensions import load_extensions

load_extensions()  # every mode's extensions, for every session

create_app(root_from(sys.argv, os.environ), requested_mode(pn.state.session_args)).servable()
