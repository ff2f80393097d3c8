"""The INSPIRE View Service block of WMS 1.3.0 capabilities (`inspire_vs:ExtendedCapabilities`).

Element order is the INSPIRE common schema's; every configured value is escaped.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from domain.inspire_config import (
    DatesConf,
    EmbeddedInspireConf,
    InspireConf,
    LanguagesConf,
    ResourceLocatorConf,
)

COMMON_NS = "http://inspire.ec.europa.eu/schemas/common/1.0"
VS_NS = "http://inspire.ec.europa.eu/schemas/inspire_vs/1.0"
NAMESPACES = f'xmlns:inspire_common="{COMMON_NS}" xmlns:inspire_vs="{VS_NS}"'
SCHEMA_LOCATION = f"{VS_NS} {VS_NS}/inspire_vs.xsd"

_DATE_TAGS = {
    "date_of_publication": "DateOfPublication",
    "date_of_creation": "DateOfCreation",
    "date_of_last_revision": "DateOfLastRevision",
}


def extended_capabilities(conf: InspireConf) -> str:
    """The block that goes after `<Exception>` in the `<Capability>` of a 1.3.0 document."""
    if isinstance(conf, EmbeddedInspireConf):
        body = _embedded(conf)
    else:
        body = _locator("MetadataUrl", conf.metadata_url) + _languages(conf.languages)
    return (
        f"<inspire_vs:ExtendedCapabilities>{body}</inspire_vs:ExtendedCapabilities>\n"
    )


def _embedded(conf: EmbeddedInspireConf) -> str:
    parts = [_locator("ResourceLocator", rl) for rl in conf.resource_locators]
    parts.append(_text("ResourceType", "service"))
    parts.append(_el("TemporalReference", _dates(conf.temporal_reference)))
    for conformity in conf.conformities:
        specification = _citation(
            conformity.title, conformity, conformity.uris, conformity.resource_locators
        )
        parts.append(
            _el(
                "Conformity",
                _el("Specification", specification)
                + _text("Degree", conformity.degree),
            )
        )
    for contact in conf.metadata_points_of_contact:
        fields = ""
        if contact.organisation_name is not None:
            fields += _text("OrganisationName", contact.organisation_name)
        if contact.email is not None:
            fields += _text("EmailAddress", contact.email)
        parts.append(_el("MetadataPointOfContact", fields))
    parts.append(_text("MetadataDate", conf.metadata_date.isoformat()))
    parts.append(_text("SpatialDataServiceType", "view"))
    parts += [
        _el("MandatoryKeyword", _text("KeywordValue", word))
        for word in conf.mandatory_keywords
    ]
    for keyword in conf.keywords:
        vocabulary = _citation(
            keyword.title, keyword, keyword.uris, keyword.resource_locators
        )
        parts.append(
            _el(
                "Keyword",
                _el("OriginatingControlledVocabulary", vocabulary)
                + _text("KeywordValue", keyword.keyword_value),
            )
        )
    parts.append(_languages(conf.languages))
    if conf.metadata_url is not None:
        parts.append(_locator("MetadataUrl", conf.metadata_url))
    return "".join(parts)


def _citation(
    title: str | None,
    dates: DatesConf,
    uris: tuple[str, ...],
    locators: tuple[ResourceLocatorConf, ...],
) -> str:
    return (
        (_text("Title", title) if title is not None else "")
        + _dates(dates)
        + "".join(_text("URI", uri) for uri in uris)
        + "".join(_locator("ResourceLocator", rl) for rl in locators)
    )


def _dates(conf: DatesConf) -> str:
    return "".join(
        _text(_DATE_TAGS[name], date.isoformat()) for name, date in conf.dates()
    )


def _languages(conf: LanguagesConf) -> str:
    # Tilegate serves one language: it is the default, the only supported and the response one.
    language = _text("Language", conf.default)
    return _el("SupportedLanguages", _el("DefaultLanguage", language)) + _el(
        "ResponseLanguage", language
    )


def _locator(tag: str, conf: ResourceLocatorConf) -> str:
    return _el(tag, _text("URL", conf.url) + _text("MediaType", conf.media_type))


def _el(tag: str, markup: str) -> str:
    """An inspire_common element around markup already escaped."""
    return f"<inspire_common:{tag}>{markup}</inspire_common:{tag}>"


def _text(tag: str, value: str) -> str:
    """An inspire_common element holding a configured value."""
    return _el(tag, escape(value))
