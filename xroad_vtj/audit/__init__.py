"""The tamper-evident audit trail (see docs/audit.md).

Where things are decided:

* ``records`` - what the service hands over (Intent, Outcome, Refusal); ``codec`` - the stored record bodies
* ``chain`` - canonical form and the hash chain; ``verify`` - checking it
* ``keys`` - subject encryption and blind index; ``signing``/``xmldsig`` - the signing identity, XML-DSig
* ``checkpoint`` - signed checkpoints; ``evidence`` - export and prove documents; ``retention``
* ``store`` - the AuditStore interface; ``sqlite_store``, ``pg_store`` (+ ``pg_schema``, ``migrations/``)
* ``config`` - the ``audit:`` configuration section; ``cli`` - ``xroad-vtj audit ...``

Import from the modules themselves; this package imports nothing so that ``config`` and ``records`` stay
cheap to import.
"""
