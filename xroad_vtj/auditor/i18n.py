"""The view's labels in English and Finnish (``--lang en|fi``).

Codes stored in the log (outcomes, refusal reasons) are shown with a label when one is known and as the code
itself otherwise, so a new code never breaks a page."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("en", "fi")

# key: (English, Finnish)
LABELS: dict[str, tuple[str, str]] = {
    "app": ("Audit log", "Lokiselvitys"),
    "product_name": ("xroad-vtj audit view", "xroad-vtj lokinäkymä"),
    "read_only": ("Read-only", "Vain luku"),
    "auditor": ("Auditor", "Tarkastaja"),
    "sign_out": ("Sign out", "Kirjaudu ulos"),
    "signed_out": (
        "Signed out. Open the address the command printed to come back.",
        "Kirjauduit ulos. Palaa avaamalla komennon tulostama osoite.",
    ),
    "nav.overview": ("Overview", "Yleiskuva"),
    "nav.search": ("Search", "Haku"),
    "nav.report": ("Report", "Raportti"),
    "overview.title": ("Overview", "Yleiskuva"),
    "verify.title": ("Log integrity", "Lokin eheys"),
    "verify.ok": ("Intact", "Eheä"),
    "verify.failed": ("NOT INTACT", "EI EHEÄ"),
    "verify.pending": ("Checking…", "Tarkistetaan…"),
    "verify.records": ("Records", "Tietueita"),
    "verify.checkpoints": ("Signed checkpoints", "Allekirjoitettuja tarkistuspisteitä"),
    "verify.last_checkpoint": ("Last checkpoint", "Viimeisin tarkistuspiste"),
    "verify.checked_at": ("Checked", "Tarkistettu"),
    "verify.none": ("none", "ei yhtään"),
    "verify.age": ("ago", "sitten"),
    "verify.record": ("record", "tietue"),
    "verify.again": ("Check again", "Tarkista uudelleen"),
    "verify.stale": (
        "Records after the last checkpoint are not yet covered by a signature.",
        "Viimeisimmän tarkistuspisteen jälkeisiä tietueita ei ole vielä allekirjoitettu.",
    ),
    "counting": (
        "Counting the last 30 days… reload the page in a moment.",
        "Lasketaan viimeisiä 30 päivää… lataa sivu hetken kuluttua uudelleen.",
    ),
    "chart.title": ("Queries per day, last 30 days", "Kyselyt päivittäin, viimeiset 30 päivää"),
    "chart.caption": ("by outcome; refusals included", "lopputuloksen mukaan; torjutut mukana"),
    "chart.empty": ("No queries in the last 30 days.", "Ei kyselyitä viimeisten 30 päivän aikana."),
    "by_caller.title": ("Queries by caller, 30 days", "Kyselyt sovelluksittain, 30 päivää"),
    "reasons.title": ("Refusals by reason, 30 days", "Torjunnat syyn mukaan, 30 päivää"),
    "quota.title": ("Quota hits, 30 days", "Kiintiöiden ylitykset, 30 päivää"),
    "top.title": ("End users with most distinct subjects this week", "Eniten eri henkilöitä tällä viikolla"),
    "top.since": ("since", "alkaen"),
    "access.title": ("Recent auditor access", "Viimeisimmät tarkastajien katselut"),
    "access.page": ("Page", "Sivu"),
    "access.searched": ("Searched", "Haettu"),
    "access.subject_index": ("subject (blind index)", "henkilö (sokea indeksi)"),
    "access.results": ("Results", "Tuloksia"),
    "none": ("None.", "Ei yhtään."),
    "truncated": (
        "Too many records to count them all; the numbers cover the first part of the period.",
        "Tietueita on liikaa kaikkien laskemiseen; luvut kattavat jakson alkuosan.",
    ),
    "col.caller": ("Caller", "Sovellus"),
    "col.end_user": ("End user", "Loppukäyttäjä"),
    "col.queries": ("Queries", "Kyselyt"),
    "col.refusals": ("Refusals", "Torjutut"),
    "col.reason": ("Reason", "Syy"),
    "col.count": ("Count", "Määrä"),
    "col.subjects": ("Distinct subjects", "Eri henkilöitä"),
    "col.time": ("Time", "Aika"),
    "col.requested_at": ("Requested", "Pyydetty"),
    "col.completed_at": ("Completed", "Valmistunut"),
    "col.purpose": ("Purpose", "Käyttötarkoitus"),
    "col.product": ("Product", "Tuote"),
    "col.operation": ("Operation", "Operaatio"),
    "col.route": ("Route", "Reitti"),
    "col.subject_kind": ("Subject type", "Kohteen tyyppi"),
    "col.subject": ("Subject", "Kohde"),
    "col.outcome": ("Outcome", "Lopputulos"),
    "mac.flag": ("MAC FAILED", "MAC VIRHE"),
    "mac.invalid": (
        "This record's authentication code does not match: it was not written by the service with this "
        "data key, or it was changed afterwards. Do not rely on it; run “xroad-vtj audit verify”.",
        "Tietueen todennuskoodi ei täsmää: palvelu ei kirjoittanut sitä tällä tietoavaimella, tai sitä on "
        "muutettu jälkikäteen. Älä luota siihen; aja “xroad-vtj audit verify”.",
    ),
    "mac.unknown_key": (
        "This record names a data key this view does not have: its authentication cannot be checked. "
        "Configure the previous data keys, or run “xroad-vtj audit verify”.",
        "Tietue viittaa tietoavaimeen, jota tällä näkymällä ei ole: sen todennusta ei voi tarkistaa. "
        "Määritä aiemmat tietoavaimet tai aja “xroad-vtj audit verify”.",
    ),
    "mac.absent": (
        "This record has no authentication code: it was written before record codes existed, or forged to "
        "look so. “xroad-vtj audit verify” tells which.",
        "Tietueella ei ole todennuskoodia: se on kirjoitettu ennen todennuskoodeja, tai väärennetty "
        "näyttämään siltä. “xroad-vtj audit verify” kertoo kumpi.",
    ),
    "col.xroad_id": ("X-Road message id", "X-Road-viestin tunniste"),
    "col.latency": ("Latency", "Vasteaika"),
    "col.http_status": ("HTTP status", "HTTP-tila"),
    "col.return_code": ("VTJ return code", "VTJ-paluukoodi"),
    "col.error_code": ("Error code", "Virhekoodi"),
    "col.fault_code": ("SOAP fault", "SOAP-virhe"),
    "col.fault_detail": (
        "Fault detail (security server id)",
        "Virheen tarkenne (liityntäpalvelimen tunniste)",
    ),
    "col.fault_family": ("Fault family", "Virheluokka"),
    "col.client": ("X-Road client", "X-Road-asiakas"),
    "col.service": ("X-Road service", "X-Road-palvelu"),
    "col.instance": ("Instance", "Instanssi"),
    "col.data_categories": ("Data returned", "Palautetut tiedot"),
    "col.request_sha512": ("SHA-512 of the request", "Pyynnön SHA-512"),
    "col.received_hash": ("requestHash received", "Vastaanotettu requestHash"),
    "col.new_subject": ("New active identifier", "Uusi voimassa oleva tunniste"),
    "col.audit_id": ("Audit id", "Lokitunniste"),
    "col.kind": ("Kind", "Laji"),
    "col.seq": ("Record", "Tietue"),
    "col.period": ("Period", "Jakso"),
    "col.hash": ("Hash", "Tiiviste"),
    "search.title": ("Search the log", "Hae lokista"),
    "search.subject_hint": (
        "henkilötunnus, SATU, building or property identifier",
        "henkilötunnus, SATU, rakennus- tai kiinteistötunnus",
    ),
    "search.submit": ("Search", "Hae"),
    "search.results": ("Results", "Tulokset"),
    "search.none": ("No matching queries.", "Ei osumia."),
    "search.limited": (
        "Only the first {n} are shown: narrow the search.",
        "Vain {n} ensimmäistä näytetään: tarkenna hakua.",
    ),
    "search.need_filter": ("Give at least one search condition.", "Anna vähintään yksi hakuehto."),
    "search.logged": (
        "Your searches and the records you open are recorded in the audit log.",
        "Hakusi ja avaamasi tietueet kirjataan lokiin.",
    ),
    "form.from": ("From (date)", "Alkaen (pvm)"),
    "form.to": ("To (date, inclusive)", "Päättyen (pvm, mukaan lukien)"),
    "form.invalid_date": ("Dates are YYYY-MM-DD.", "Päivämäärät muodossa VVVV-KK-PP."),
    "form.range": ("“From” must not be after “To”.", "Alkupäivä ei voi olla loppupäivän jälkeen."),
    "record.title": ("Query", "Kysely"),
    "record.refusal_title": ("Refused request", "Torjuttu pyyntö"),
    "record.intent": ("Intent (before sending)", "Aikomus (ennen lähetystä)"),
    "record.outcome": ("Outcome", "Lopputulos"),
    "record.refusal": ("Refusal", "Torjunta"),
    "record.no_outcome": ("No outcome recorded.", "Lopputulosta ei ole kirjattu."),
    "record.chain": ("Position in the hash chain", "Sijainti tiivisteketjussa"),
    "record.proof": ("Download signed evidence (XML)", "Lataa allekirjoitettu todiste (XML)"),
    "record.proof_hint": (
        "Verify with: xmlsec1 --verify --pubkey-cert-pem signing.crt FILE.xml",
        "Tarkista: xmlsec1 --verify --pubkey-cert-pem signing.crt TIEDOSTO.xml",
    ),
    "record.earlier_outcomes": ("Earlier outcomes", "Aiemmat lopputulokset"),
    "report.title": ("Report on one subject", "Raportti yhdestä henkilöstä"),
    "report.intro": (
        "Every query about one subject in a period, for DVV's log request (lokiselvitys).",
        "Kaikki yhtä henkilöä koskevat kyselyt jaksolla, DVV:n lokiselvityspyyntöä varten.",
    ),
    "report.submit": ("Produce report", "Laadi raportti"),
    "report.heading": ("Queries about", "Kyselyt henkilöstä"),
    "report.period": ("Period", "Jakso"),
    "report.produced": ("Produced", "Laadittu"),
    "report.by": ("by", "laatija"),
    "report.count": ("Queries and refusals", "Kyselyitä ja torjuntoja"),
    "report.csv": ("Download CSV", "Lataa CSV"),
    "report.xml": ("Download signed XML", "Lataa allekirjoitettu XML"),
    "report.print": ("Print this page for a paper copy.", "Tulosta sivu paperikopioksi."),
    "report.need": ("Give the subject and the period.", "Anna henkilö ja jakso."),
    "report.expired": (
        "This report is no longer available: produce it again.",
        "Raportti ei ole enää saatavilla: laadi se uudelleen.",
    ),
    "subject.required": ("Subject", "Henkilö"),
    "error.title": ("Error", "Virhe"),
    "error.unauthorized": (
        "Open the address the command printed (it holds the access token).",
        "Avaa komennon tulostama osoite (siinä on pääsytunniste).",
    ),
    "error.cross_site": (
        "A form sent from another site was refused.",
        "Toiselta sivustolta lähetetty lomake torjuttiin.",
    ),
    "error.not_found": ("Not found.", "Ei löytynyt."),
    "error.store": ("The audit store could not answer", "Lokitietokanta ei vastannut"),
    "footer.times": ("Times: Europe/Helsinki (offset shown).", "Ajat: Suomen aika (UTC-ero näkyvissä)."),
    "yes": ("yes", "kyllä"),
    "no": ("no", "ei"),
}

# Stored codes shown with a readable name. Unknown codes are shown as they are.
CODES: dict[str, tuple[str, str]] = {
    "found": ("found", "löytyi"),
    "not_found": ("not found", "ei löytynyt"),
    "passivated": ("passivated", "passivoitu"),
    "deceased": ("deceased", "kuollut"),
    "not_disclosed": ("not disclosed", "ei luovutettu"),
    "refused": ("refused", "torjuttu"),
    "pending": ("no outcome yet", "ei lopputulosta"),
    "outcome_unknown": ("outcome unknown", "lopputulos tuntematon"),
    "upstream_fault": ("upstream fault", "palvelinvirhe"),
    "upstream_rejected": ("rejected by VTJ", "VTJ hylkäsi"),
    "upstream_timeout": ("timeout", "aikakatkaisu"),
    "upstream_unavailable": ("unreachable", "ei tavoitettu"),
    "quota_exceeded": ("quota exceeded", "kiintiö ylitetty"),
    "invalid_hetu": ("invalid hetu", "virheellinen hetu"),
    "invalid_request": ("invalid request", "virheellinen pyyntö"),
    "forbidden": ("forbidden", "ei oikeutta"),
    "product_not_allowed": ("product not allowed", "tuote ei sallittu"),
    "overloaded": ("overloaded", "ylikuormitus"),
    "audit_unavailable": ("audit unavailable", "loki ei käytettävissä"),
    "query": ("query", "kysely"),
    "refusal": ("refusal", "torjunta"),
    "intent": ("intent", "aikomus"),
    "outcome": ("outcome", "lopputulos"),
    "search": ("search", "haku"),
    "record": ("record", "tietue"),
    "proof": ("evidence", "todiste"),
    "report": ("report", "raportti"),
    "report_csv": ("report CSV", "raportti CSV"),
    "report_xml": ("report XML", "raportti XML"),
    "hetu": ("henkilötunnus", "henkilötunnus"),
    "satu": ("SATU", "SATU"),
    "building": ("building", "rakennus"),
    "property": ("property", "kiinteistö"),
    "xroad": ("X-Road", "X-Road"),
    "direct": ("direct", "suora"),
}


def translator(lang: str) -> tuple[Callable[[str], str], Callable[[str | None], str]]:
    """``(label, code)``: a label by key, and a stored code's readable name."""
    i = LANGS.index(lang)

    def label(key: str) -> str:
        return LABELS[key][i]

    def code(value: str | None) -> str:
        if value is None:
            return ""
        known = CODES.get(value)
        return known[i] if known is not None else value

    return label, code
