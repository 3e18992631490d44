"""The auditor's read-only web view of the audit log (``xroad-vtj audit ui``).

``app`` (pages, middlewares), ``session`` (token → cookie, opaque report ids), ``aggregates`` (the overview's
numbers, no decryption), ``charts`` (server-side SVG), ``exports`` (CSV, signed XML), ``reads`` (what is read
from the store), ``present`` and ``i18n`` (times in Europe/Helsinki, English and Finnish labels), ``serve``
(the command)."""
