"""The Billomat client: resources and models over one Transport, with the API's quirks handled.

`models` is the Python API (SPEC §8: models, the generic resource with `list`, `where`, `find`,
`save`), `endpoints` each resource's endpoint and quirks, `records` the API's record shapes, and
`account` the `Billomat` account object. Callers import from `sync.clients.billomat`.
"""

from sync.clients.billomat.account import Billomat
from sync.clients.billomat.endpoints import (
    ClientProperties,
    ClientPropertyValues,
    Clients,
    ClientTags,
    Contacts,
)
from sync.clients.billomat.models import (
    LIST_PER_PAGE,
    PAGE_PER_PAGE,
    PINNED_ORDER,
    Client,
    ClientProperty,
    ClientPropertyValue,
    ClientTag,
    Contact,
    Model,
    Resource,
)
from sync.clients.billomat.records import split_record, text_records, to_text
from sync.clients.paging import Page, Paging

__all__ = [
    "LIST_PER_PAGE",
    "PAGE_PER_PAGE",
    "PINNED_ORDER",
    "Billomat",
    "Client",
    "ClientProperty",
    "ClientPropertyValue",
    "ClientPropertyValues",
    "ClientProperties",
    "ClientTag",
    "ClientTags",
    "Clients",
    "Contact",
    "Contacts",
    "Model",
    "Page",
    "Paging",
    "Resource",
    "split_record",
    "text_records",
    "to_text",
]
