"""The SnapBill v1 client: form-encoded POSTs with basic auth over the shared Transport (snapbill-api.md).

`models` is the Python API (SPEC §8, the shape of Billomat's), `endpoints` the clients and contacts
classes, `forms` the discovery form, `wire` the envelopes, form encoding and error bodies, and
`account` the `SnapBill` account object. Callers import from `sync.clients.snapbill`.
"""

from sync.clients.snapbill.account import SnapBill
from sync.clients.snapbill.endpoints import Client, Clients, Contact, Contacts
from sync.clients.snapbill.forms import ClientForm, FormControl
from sync.clients.snapbill.models import Model, Resource
from sync.clients.snapbill.wire import (
    CLIENT_PARAMS,
    SnapBillPaging,
    SnapBillRejectedError,
    SnapBillTransport,
    encode_form,
    error_text,
)

__all__ = [
    "CLIENT_PARAMS",
    "Client",
    "ClientForm",
    "Clients",
    "Contact",
    "Contacts",
    "FormControl",
    "Model",
    "Resource",
    "SnapBill",
    "SnapBillPaging",
    "SnapBillRejectedError",
    "SnapBillTransport",
    "encode_form",
    "error_text",
]
