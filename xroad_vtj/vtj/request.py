"""The VTJ request namespace and limits shared by every request builder.

Every body is built by :func:`xroad_vtj.vtj.operations.build_operation_body` (the person query's
``build_henkilon_tunnus_kysely`` is a thin call of it). The person query's shape, for reference:

Shape, as DVV's schema (``query.xsd``, ``elementFormDefault="qualified"``) defines it: the wrapper and every
child are in the namespace ``http://xml.vrk.fi/ws/vtj/vtjkysely/1``, declared once as the default namespace on
the wrapper, and the children follow the schema's sequence order::

    <HenkilonTunnusKysely xmlns="http://xml.vrk.fi/ws/vtj/vtjkysely/1">
      <request>
        <SoSoNimi/> <Kayttajatunnus/> <Salasana/> <Loppukayttaja/> <Henkilotunnus/>
      </request>
    </HenkilonTunnusKysely>

``SoSoNimi`` is the product agreed in the data permit, ``Kayttajatunnus``/``Salasana`` the organisation's VTJ
credentials (so the built tree is a secret), ``Loppukayttaja`` the person on whose behalf the query is made
(mandatory, at most 50 characters). The optional schema elements (``Laskutustiedot``, certificate fields)
are left out. Each call returns a fresh tree (a copy of one built at import); callers may move or change it.
"""

from __future__ import annotations

__all__ = ["END_USER_MAX_LENGTH", "VTJ_NS"]

VTJ_NS = "http://xml.vrk.fi/ws/vtj/vtjkysely/1"
END_USER_MAX_LENGTH = 50
