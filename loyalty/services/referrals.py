"""The referral tree as the engine walks it: up to three ancestors, never a cycle."""

from django.db import connection

from crm.models import Client

from .errors import ClientError

MAX_LEVELS = 3


def referral_chains(client_ids) -> dict[int, list[int]]:
    """Ancestors (direct referrer first, at most 3) of each client, read in one query.

    The walk stops at a repeat, so a corrupted tree can never make a client its own ancestor."""
    ids = sorted({cid for cid in client_ids if cid is not None})
    if not ids:
        return {}
    # Hand-written SQL: this runs for every purchase, and the ORM's compile cost is most of it.
    table = connection.ops.quote_name(Client._meta.db_table)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, r1.id, r2.id, r2.referred_by_id FROM {table} c "
            f"LEFT JOIN {table} r1 ON r1.id = c.referred_by_id "
            f"LEFT JOIN {table} r2 ON r2.id = r1.referred_by_id "
            f"WHERE c.id IN ({marks})",
            ids,
        )
        rows = cursor.fetchall()
    return {row[0]: _clean_chain(row[0], row[1:]) for row in rows}


def _clean_chain(client_id: int, ancestors) -> list[int]:
    chain, seen = [], {client_id}
    for ancestor in ancestors:
        if ancestor is None or ancestor in seen:
            break
        chain.append(ancestor)
        seen.add(ancestor)
    return chain


def chain_from_locked(client_id: int, clients: dict) -> list[int] | None:
    """The chain re-read from locked rows; None if it reaches a row that is not locked
    (the tree changed between the read and the lock)."""
    chain, seen = [], {client_id}
    node = clients[client_id]
    for _level in range(MAX_LEVELS):
        parent = node.referred_by_id
        if parent is None or parent in seen:
            break
        if parent not in clients:
            return None
        chain.append(parent)
        seen.add(parent)
        node = clients[parent]
    return chain


def referrer_assign(*, client: Client, referrer: Client | None) -> Client:
    """Set who referred `client`; refuse another merchant's client and any cycle
    (the client may not appear among the referrer's ancestors)."""
    from django.utils.translation import gettext as _

    if referrer is not None:
        if referrer.merchant_id != client.merchant_id:
            raise ClientError(_("The referrer is another merchant's client."))
        node, seen = referrer, set()
        while node is not None:
            if node.pk == client.pk or node.pk in seen:
                raise ClientError(_("A client cannot be their own referrer or ancestor."))
            seen.add(node.pk)
            node = node.referred_by
    client.referred_by = referrer
    client.save(update_fields=["referred_by", "updated_at"])
    return client
