"""The analyst workbench: a REST API and a review page over a store of tagged documents.

Needs the ``serve`` extra (``pip install 'threatevents[serve]'``). Layers, bottom up: ``settings``
(configuration), ``db`` (SQLAlchemy tables, Alembic migrations in ``migrations/``),
``feedback_source`` (reviewed sentences as training documents), ``core`` (:class:`Workbench`, the
service functions), ``views`` (pydantic shapes), ``auth`` (token, session cookie, CSRF), ``api`` and
``web`` (HTTP routers), ``app`` (:func:`create_app`) and ``server`` (:func:`serve`, runs uvicorn).
"""
