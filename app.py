"""evalboard from a checkout: `streamlit run app.py` (a wheel's user runs `evalboard serve`).

The same thin entry as the packaged one (evalboard/app/entry.py): imported, it is the server
(`app`: Streamlit behind evalboard's guard; Streamlit finds it by reading this file, so the
`st.App(...)` call stays here); run per session as `__main__`, it runs the dashboard. Settings
come from .streamlit/config.toml beside it.
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
