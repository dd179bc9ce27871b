"""The intake side as a library: reading and parsing records (``records``) and talking to cases (``cases``).

``starter.py`` is a thin command line over this package; other front ends (a web form, a
batch import) call the same functions.  Refusals are typed (:class:`intake.errors.Refused`
carries field-named errors), never JSON inside an exception's text.
"""
