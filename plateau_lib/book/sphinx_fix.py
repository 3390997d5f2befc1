r"""A Sphinx extension the book loads (``sphinx: extra_extensions`` in ``_config.yml``) for one fix."""

from __future__ import annotations

import os

__all__ = ["setup"]


def _inline_scripts_once(app: object) -> None:
    """Make the HTML builder write each inline script once (Sphinx 7.4, sphinx-doc/sphinx#13402).

    ``Sphinx.add_js_file(None, body=...)`` after the builder started hands ``None`` to the
    builder and ``''`` to the registry, which the builder adds again before writing; the two
    differ, so the script appears twice (sphinx-thebe's ``const`` declarations then throw).
    Handing the builder ``''`` too, as the upstream fix does, lets its duplicate check see it.
    """
    builder = getattr(app, "builder", None)
    add_js_file = getattr(builder, "add_js_file", None)
    if add_js_file is None:
        return

    def add_js_file_once(filename: str | None, **kwargs: object) -> None:
        add_js_file(filename or "", **kwargs)

    builder.add_js_file = add_js_file_once


def setup(app: object) -> dict[str, object]:
    """Sphinx extension (``sphinx: extra_extensions`` in ``_config.yml``): see :func:`_inline_scripts_once`."""
    app.connect("builder-inited", _inline_scripts_once)
    app.connect("autodoc-skip-member", _skip_field_aliases)
    app.connect("config-inited", _scorer_from_source)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _skip_field_aliases(app: object, what: str, name: str, obj: object, skip: bool, options: object) -> bool | None:
    """Leave out a named tuple's field properties, whose docstring is only "Alias for field number N".

    The fields are listed in the class's own docstring; the generated aliases only repeat them.
    """
    doc = getattr(obj, "__doc__", None) or ""
    if doc.startswith("Alias for field number"):
        return True
    return None


def _scorer_from_source(app: object, config: object) -> None:
    """Read ``html_search_scorer`` relative to the book's source folder.

    Jupyter Book builds without a configuration folder, so Sphinx would open the scorer relative
    to the working directory, which is the source folder only when the build is started there.
    """
    scorer = getattr(config, "html_search_scorer", "")
    if scorer and not os.path.isabs(scorer):
        config.html_search_scorer = os.path.join(app.srcdir, scorer)

