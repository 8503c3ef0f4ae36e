"""The packaged Streamlit entry point (`evalboard serve` runs it).

`streamlit run` first reads this file to find its server (`app` below: Streamlit with
evalboard's guard in front of its HTTP routes, evalboard/ui/server_guard.py) and imports it.
Each browser session then runs it as the script (`__main__`): evalboard/app/session.py.
The checkout's top-level app.py has the same shape, so `streamlit run app.py` works too.
"""

import streamlit as st

if __name__ != "__main__":
    from starlette.middleware import Middleware

    from evalboard.ui.preload import preload_pages
    from evalboard.ui.server_guard import AccessGuard

    preload_pages()  # the pages' imports, once, before the first visit
    app = st.App(__file__, middleware=[Middleware(AccessGuard)])
else:
    from evalboard.app.session import run_session

    run_session()
