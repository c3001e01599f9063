"""Entry point of ``panel serve``: the app on the root given by ``--args ROOT`` or ``$THALIA_ROOT``.

The mode comes from the URL: ``/main`` explores, ``/main?mode=annotate`` corrects masks and labels.

    panel serve thalia_viewer/app/main.py --args data/default
    THALIA_ROOT=data/default panel serve thalia_viewer/app/main.py --num-procs 4 --basic-auth creds.json
"""

import os
import sys

import panel as pn

from thalia_viewer.app import theme
from thalia_viewer.app.data import root_from
from thalia_viewer.app.explorer import create_app, requested_mode

pn.extension(
    "tabulator",  # review's table: loaded for every session, or a review page opened after another mode is blank
    notifications=True,
    raw_css=[theme.css()],
    design=theme.OfflineFast,
    throttled=True,  # sliders report on release: re-rendering follows the hand, not every pixel of a drag
    disconnect_notification="Connection to the server lost: reload the page.",
)

create_app(root_from(sys.argv, os.environ), requested_mode(pn.state.session_args)).servable()
