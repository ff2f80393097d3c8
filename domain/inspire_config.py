"""`services.wms.inspire_md`: INSPIRE View Service metadata, linked (scenario 1) or embedded (2).

Keys and required-ness are MapProxy's. Values whose INSPIRE schema type is a code list or a
date are checked here, so that a capabilities document never carries one a validator refuses.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Literal

import attrs

from domain.errors import ConfigValueError

# ISO 639-2/alpha-3, as the INSPIRE common schema's Language type wants it.
_LANGUAGE = re.compile(r"[a-z]{3}")


def _language(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _LANGUAGE.fullmatch(value):
        raise ConfigValueError(
            f"{attribute.name} must be an ISO 639-2 three-letter language code such as"
            f" 'eng', got {value!r}"
        )


def _not_empty(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[object, ...]
) -> None:
    if not value:
        raise ConfigValueError(f"{attribute.name} needs at least one entry")


@attrs.frozen
class ResourceLocatorConf:
    """A URL with the media type of what it points at."""

    url: str
    media_type: str


@attrs.frozen
class LanguagesConf:
    default: str = attrs.field(validator=_language)


@attrs.frozen
class DatesConf:
    """The dates a citation or a temporal reference may carry; YAML reads them as dates."""

    date_of_publication: datetime.date | None = None
    date_of_creation: datetime.date | None = None
    date_of_last_revision: datetime.date | None = None

    def dates(self) -> list[tuple[str, datetime.date]]:
        """The dates given, by name, in the order the INSPIRE schema lists them."""
        named = (
            ("date_of_publication", self.date_of_publication),
            ("date_of_creation", self.date_of_creation),
            ("date_of_last_revision", self.date_of_last_revision),
        )
        return [(name, date) for name, date in named if date is not None]


@attrs.frozen
class TemporalReferenceConf(DatesConf):
    def __attrs_post_init__(self) -> None:
        if not self.dates():
            raise ConfigValueError(
                "temporal_reference needs one of date_of_publication, date_of_creation,"
                " date_of_last_revision"
            )


@attrs.frozen
class ConformityConf(DatesConf):
    """A specification the service was tested against, and with what result."""

    resource_locators: tuple[ResourceLocatorConf, ...] = attrs.field(kw_only=True)
    degree: Literal["conformant", "notConformant", "notEvaluated"] = attrs.field(
        kw_only=True
    )
    title: str | None = None
    uris: tuple[str, ...] = ()


@attrs.frozen
class PointOfContactConf:
    organisation_name: str | None = None
    email: str | None = None


@attrs.frozen
class KeywordConf(DatesConf):
    """A keyword with the controlled vocabulary (`title`, dates, ...) it comes from."""

    title: str = attrs.field(kw_only=True)
    keyword_value: str = attrs.field(kw_only=True)
    uris: tuple[str, ...] = ()
    resource_locators: tuple[ResourceLocatorConf, ...] = ()


@attrs.frozen
class LinkedInspireConf:
    """Scenario 1: the service metadata lives in a catalogue; the capabilities link to it."""

    type: Literal["linked"]
    metadata_url: ResourceLocatorConf
    languages: LanguagesConf


@attrs.frozen
class EmbeddedInspireConf:
    """Scenario 2: the service metadata is written into the capabilities themselves."""

    type: Literal["embedded"]
    resource_locators: tuple[ResourceLocatorConf, ...] = attrs.field(
        validator=_not_empty
    )
    temporal_reference: TemporalReferenceConf
    conformities: tuple[ConformityConf, ...] = attrs.field(validator=_not_empty)
    metadata_points_of_contact: tuple[PointOfContactConf, ...] = attrs.field(
        validator=_not_empty
    )
    mandatory_keywords: tuple[str, ...] = attrs.field(validator=_not_empty)
    metadata_date: datetime.date
    languages: LanguagesConf
    keywords: tuple[KeywordConf, ...] = ()
    metadata_url: ResourceLocatorConf | None = None


InspireConf = LinkedInspireConf | EmbeddedInspireConf
INSPIRE_TYPES: dict[str, type[InspireConf]] = {
    "linked": LinkedInspireConf,
    "embedded": EmbeddedInspireConf,
}
