"""Behavioural features computed online, from the serving snapshot of the dbt baselines.

The definitions are the same as the dbt feature mart (``fct_message_behaviour``): every feature of a
message uses only mail of the same tenant that arrived strictly before it, ordered by
``(received_at, message_id)``. ``BehaviourState.features`` reads the state, ``observe`` adds a
message to it; replaying mail in arrival order through both reproduces the mart exactly (the
parity test holds the two equal).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from detection.features.domains import max_lookalike, registrable
from detection.mail.schema import TIMESTAMP, Message, domain_of, name_key, url_domains

# Every behavioural feature, in the model's column order, with what it means to an analyst.
# A feature is declared here, computed online in BehaviourState.features (and observe, for new
# state), and in SQL as a column of the mart fct_message_behaviour; the parity tests hold the
# two equal. docs/adding-a-feature.md walks through it.
BEHAVIOUR_DESCRIPTIONS: dict[str, str] = {
    "sender_prior_messages": "how often this sender wrote to the organisation before",
    "sender_days_since_first_seen": "how long the sender has been known",
    "pair_prior_messages": "how often this sender wrote to this recipient before",
    "recipient_has_replied": "whether the recipient ever wrote to this sender",
    "domain_prior_messages": "how often the sender's domain wrote before",
    "domain_days_since_first_seen": "how long the sender's domain has been known",
    "display_name_prior_addresses": "other addresses that used this display name",
    "display_name_seen_internal": "display name of a colleague, sent from outside",
    "display_name_vip_external": "display name of an executive (VIP), sent from outside",
    "recipient_first_time_sender_share": "how much of the recipient's mail comes from new senders",
    "url_domains_new_to_tenant": "links to domains never seen in the organisation's mail",
    "known_sender_new_link_domains": "a known sender links to a new domain not its own",
    "sender_lookalike_of_known_domain": "sender domain imitates a domain the organisation knows",
    "url_lookalike_of_known_domain": "a link goes to a domain imitating one the organisation knows",
}
BEHAVIOUR_FEATURES: tuple[str, ...] = tuple(BEHAVIOUR_DESCRIPTIONS)

# History saturates: past these, more history says nothing new, and the features stop growing
# with the length of the observation window (a model must not learn "attacks come from senders
# with under N messages" where N is just how long we have been watching).
HISTORY_CAP = 10
AGE_CAP_DAYS = 30.0
KNOWN_DOMAIN_MIN_MESSAGES = 2  # an organisation domain is "known" after this many messages
# An internal sender becomes a VIP with a message to at least this many people: the
# employee/VIP directory comes from the mail itself.
VIP_MIN_RECIPIENTS = 10
# A tenant named corpus:<name> is a pooled collection of labelled mail from unrelated mailboxes
# (public corpora): it has no organisational history, so every behavioural feature of its mail is
# unknown (NaN), in the mart and online alike; content decides.
POOLED_TENANT_PREFIX = "corpus:"


def dbt_vars() -> dict[str, object]:
    """The same constants for the dbt models (``var('history_cap')``, ...). These are their only
    definition: every dbt run gets them with ``--vars`` (the Dagster baseline assets, the tests,
    the benchmark; by hand, in ``dbt_project/``: ``../.venv-dbt/bin/dbt build --vars
    "$(../.venv/bin/python -m detection.features.behaviour)"``)."""
    return {
        "history_cap": HISTORY_CAP,
        "age_cap_days": AGE_CAP_DAYS,
        "known_domain_min_messages": KNOWN_DOMAIN_MIN_MESSAGES,
        "vip_min_recipients": VIP_MIN_RECIPIENTS,
        "pooled_tenant_prefix": POOLED_TENANT_PREFIX,
        "behaviour_features": list(BEHAVIOUR_FEATURES),
    }


def has_history(tenant_id: str, seen_tenants: set[str] | frozenset[str]) -> bool:
    """Whether behavioural features can say anything about a message of this tenant: the tenant
    has earlier mail and is not a pooled corpus."""
    return tenant_id in seen_tenants and not tenant_id.startswith(POOLED_TENANT_PREFIX)


# The serving snapshot: each table is the dbt model ``dim_<name>`` (a test holds the columns of
# the two equal); BehaviourState reads and writes these tables.
SNAPSHOT_TABLES = {
    "sender_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("sender_address", pa.string()),
            ("prior_messages", pa.int64()),
            ("first_seen_at", TIMESTAMP),
        ]
    ),
    "pair_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("sender_address", pa.string()),
            ("recipient_address", pa.string()),
            ("prior_messages", pa.int64()),
        ]
    ),
    "domain_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("sender_domain", pa.string()),
            ("prior_messages", pa.int64()),
            ("first_seen_at", TIMESTAMP),
        ]
    ),
    "display_name_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("display_name", pa.string()),
            ("sender_address", pa.string()),
            ("sender_domain", pa.string()),
        ]
    ),
    "url_domain_baselines": pa.schema([("tenant_id", pa.string()), ("url_domain", pa.string())]),
    "recipient_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("recipient_address", pa.string()),
            ("prior_messages", pa.int64()),
            ("prior_from_first_time_senders", pa.int64()),
        ]
    ),
    "employee_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("employee_address", pa.string()),
            ("is_vip", pa.bool_()),
        ]
    ),
    "org_domain_baselines": pa.schema(
        [
            ("tenant_id", pa.string()),
            ("sender_org_domain", pa.string()),
            ("prior_messages", pa.int64()),
        ]
    ),
}


def _days_between(first: datetime, now: datetime) -> float:
    days = (math.floor(now.timestamp()) - math.floor(first.timestamp())) / 86400.0
    return min(days, AGE_CAP_DAYS)


def _count(value: int) -> float:
    return float(min(value, HISTORY_CAP))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECONDS = {"s": 1_000_000, "ms": 1_000, "us": 1}


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as Python values, UTC time stamps converted from their integers (pyarrow's
    time-zone path imports pandas, and a cast imports pyarrow.compute: most of a second of
    start-up for a process that only scores)."""
    utc = [
        f
        for f in table.schema
        if pa.types.is_timestamp(f.type) and f.type.tz in ("UTC", "+00:00")  # type: ignore[attr-defined]
    ]
    times = {f.name: _utc_times(table.column(f.name), f.type.unit) for f in utc}  # type: ignore[attr-defined]
    rows = table.drop_columns(list(times)).to_pylist() if times else table.to_pylist()
    for name, values in times.items():
        for row, value in zip(rows, values, strict=True):
            row[name] = value
    return rows


def _utc_times(column: pa.ChunkedArray, unit: str) -> list[datetime | None]:
    """A UTC timestamp column as aware datetimes (nanoseconds truncated to microseconds, the
    most a datetime holds)."""
    integers = [v for chunk in column.chunks for v in chunk.view(pa.int64()).to_pylist()]
    if unit == "ns":
        return [None if v is None else _EPOCH + timedelta(microseconds=v // 1000) for v in integers]
    scale = _MICROSECONDS[unit]
    return [None if v is None else _EPOCH + timedelta(microseconds=v * scale) for v in integers]


@dataclass
class BehaviourState:
    senders: dict[tuple[str, str], list] = field(default_factory=dict)  # -> [count, first_seen_at]
    pairs: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    domains: dict[tuple[str, str], list] = field(default_factory=dict)
    names: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    name_domains: set[tuple[str, str, str]] = field(default_factory=set)
    link_domains: set[tuple[str, str]] = field(default_factory=set)
    org_domains: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    known_orgs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # recipient -> [messages, messages from first-time senders]
    recipients: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    employees: set[tuple[str, str]] = field(default_factory=set)
    vips: set[tuple[str, str]] = field(default_factory=set)
    address_names: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    vip_names: set[tuple[str, str]] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)  # tenants with any mail seen

    def features(self, message: Message) -> dict[str, float]:
        """The behavioural features of ``message`` from the state before it; all NaN when its
        tenant has no history here (unknown is missing, not "new")."""
        if not has_history(message.tenant_id, self.tenants):
            return dict.fromkeys(BEHAVIOUR_FEATURES, float("nan"))
        tenant, sender = message.tenant_id, message.sender_address
        recipient, domain = message.primary_recipient, message.sender_domain
        now = message.received_at
        sender_stats = self.senders.get((tenant, sender))
        domain_stats = self.domains.get((tenant, domain))
        name = name_key(message.sender_display_name)
        addresses = self.names.get((tenant, name), set()) if name else set()
        recipient_domain = domain_of(recipient)
        internal = (
            bool(name)
            and domain != recipient_domain
            and ((tenant, name, recipient_domain) in self.name_domains)
        )
        nan = float("nan")
        links = url_domains(message)
        new_links = [d for d in links if (tenant, d) not in self.link_domains]
        own = registrable(domain)
        foreign_new_links = sum(d != own for d in new_links)
        recipient_stats = self.recipients.get((tenant, recipient))
        external = domain != recipient_domain
        return {
            "sender_prior_messages": _count(sender_stats[0] if sender_stats else 0),
            "sender_days_since_first_seen": _days_between(sender_stats[1], now)
            if sender_stats
            else nan,
            "pair_prior_messages": _count(self.pairs.get((tenant, sender, recipient), 0)),
            "recipient_has_replied": float(self.pairs.get((tenant, recipient, sender), 0) > 0),
            "domain_prior_messages": _count(domain_stats[0] if domain_stats else 0),
            "domain_days_since_first_seen": _days_between(domain_stats[1], now)
            if domain_stats
            else nan,
            "display_name_prior_addresses": float(len(addresses - {sender})),
            "display_name_seen_internal": float(internal),
            "display_name_vip_external": float(
                bool(name) and external and (tenant, name) in self.vip_names
            ),
            "recipient_first_time_sender_share": recipient_stats[1] / recipient_stats[0]
            if recipient_stats
            else nan,
            "url_domains_new_to_tenant": float(len(new_links)),
            "known_sender_new_link_domains": float(foreign_new_links if sender_stats else 0),
            "sender_lookalike_of_known_domain": self._lookalike_of_known(tenant, own),
            "url_lookalike_of_known_domain": max(
                (self._lookalike_of_known(tenant, d) for d in links), default=0.0
            ),
        }

    def _lookalike_of_known(self, tenant: str, org_domain: str) -> float:
        known = self.known_orgs.get(tenant, set())
        return 0.0 if org_domain in known else max_lookalike(org_domain, known)

    def observe(self, message: Message) -> None:
        tenant, sender, domain = message.tenant_id, message.sender_address, message.sender_domain
        self.tenants.add(tenant)
        recipient_stats = self.recipients.setdefault((tenant, message.primary_recipient), [0, 0])
        recipient_stats[0] += 1
        recipient_stats[1] += (tenant, sender) not in self.senders
        for table, key in ((self.senders, (tenant, sender)), (self.domains, (tenant, domain))):
            stats = table.get(key)
            if stats is None:
                table[key] = [1, message.received_at]
            else:
                stats[0] += 1
        self.pairs[(tenant, sender, message.primary_recipient)] += 1
        name = name_key(message.sender_display_name)
        if name:
            self.names[(tenant, name)].add(sender)
            self.name_domains.add((tenant, name, domain))
            self.address_names[(tenant, sender)].add(name)
        if domain and domain == domain_of(message.primary_recipient):
            self.employees.add((tenant, sender))
            audience = len(message.to_addresses) + len(message.cc_addresses)
            if audience >= VIP_MIN_RECIPIENTS:
                self.vips.add((tenant, sender))
        if (tenant, sender) in self.vips:
            self.vip_names.update((tenant, n) for n in self.address_names[(tenant, sender)])
        self.link_domains.update((tenant, d) for d in url_domains(message))
        org = registrable(domain)
        self.org_domains[(tenant, org)] += 1
        if self.org_domains[(tenant, org)] >= KNOWN_DOMAIN_MIN_MESSAGES:
            self.known_orgs[tenant].add(org)

    # --- snapshot I/O ----------------------------------------------------------------------
    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table]) -> BehaviourState:
        state = cls()
        for row in _rows(tables["sender_baselines"]):
            state.tenants.add(row["tenant_id"])
            state.senders[(row["tenant_id"], row["sender_address"])] = [
                row["prior_messages"],
                row["first_seen_at"],
            ]
        for row in _rows(tables["domain_baselines"]):
            state.domains[(row["tenant_id"], row["sender_domain"])] = [
                row["prior_messages"],
                row["first_seen_at"],
            ]
        for row in tables["pair_baselines"].to_pylist():
            key = (row["tenant_id"], row["sender_address"], row["recipient_address"])
            state.pairs[key] = row["prior_messages"]
        for row in tables["org_domain_baselines"].to_pylist():
            key = (row["tenant_id"], row["sender_org_domain"])
            state.org_domains[key] = row["prior_messages"]
            if row["prior_messages"] >= KNOWN_DOMAIN_MIN_MESSAGES:
                state.known_orgs[key[0]].add(key[1])
        state.link_domains = {
            (r["tenant_id"], r["url_domain"]) for r in tables["url_domain_baselines"].to_pylist()
        }
        for row in tables["display_name_baselines"].to_pylist():
            state.names[(row["tenant_id"], row["display_name"])].add(row["sender_address"])
            state.name_domains.add((row["tenant_id"], row["display_name"], row["sender_domain"]))
            state.address_names[(row["tenant_id"], row["sender_address"])].add(row["display_name"])
        for row in tables["recipient_baselines"].to_pylist():
            state.recipients[(row["tenant_id"], row["recipient_address"])] = [
                row["prior_messages"],
                row["prior_from_first_time_senders"],
            ]
        for row in tables["employee_baselines"].to_pylist():
            key = (row["tenant_id"], row["employee_address"])
            state.employees.add(key)
            if row["is_vip"]:
                state.vips.add(key)
                state.vip_names.update((key[0], n) for n in state.address_names[key])
        return state

    def to_tables(self) -> dict[str, pa.Table]:
        names = [
            {"tenant_id": t, "display_name": n, "sender_address": a, "sender_domain": domain_of(a)}
            for (t, n), addresses in self.names.items()
            for a in sorted(addresses)
        ]
        rows = {
            "sender_baselines": [
                {"tenant_id": t, "sender_address": s, "prior_messages": c, "first_seen_at": f}
                for (t, s), (c, f) in self.senders.items()
            ],
            "pair_baselines": [
                {"tenant_id": t, "sender_address": s, "recipient_address": r, "prior_messages": c}
                for (t, s, r), c in self.pairs.items()
            ],
            "domain_baselines": [
                {"tenant_id": t, "sender_domain": d, "prior_messages": c, "first_seen_at": f}
                for (t, d), (c, f) in self.domains.items()
            ],
            "display_name_baselines": names,
            "org_domain_baselines": [
                {"tenant_id": t, "sender_org_domain": d, "prior_messages": c}
                for (t, d), c in self.org_domains.items()
            ],
            "recipient_baselines": [
                {
                    "tenant_id": t,
                    "recipient_address": r,
                    "prior_messages": c,
                    "prior_from_first_time_senders": f,
                }
                for (t, r), (c, f) in self.recipients.items()
            ],
            "employee_baselines": [
                {"tenant_id": t, "employee_address": a, "is_vip": (t, a) in self.vips}
                for t, a in sorted(self.employees)
            ],
            "url_domain_baselines": [
                {"tenant_id": t, "url_domain": d} for t, d in sorted(self.link_domains)
            ],
        }
        return {k: pa.Table.from_pylist(v, schema=SNAPSHOT_TABLES[k]) for k, v in rows.items()}


if __name__ == "__main__":  # the dbt vars as JSON, for running dbt by hand
    import json
    import sys

    sys.stdout.write(json.dumps(dbt_vars()) + "\n")
