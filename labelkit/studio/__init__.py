"""`labelkit studio`: a local page to write rules with live feedback, and a review queue.

engine.py computes (votes cached once, vectorised preview of an edited rule), state.py holds the
explicit state object, review.py builds the queue from a build's output folder, app.py is the
Starlette app (templates/ server-rendered with autoescape, static/ vendored plain JavaScript).
"""
