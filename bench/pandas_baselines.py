# pyright: reportArgumentType=false, reportAttributeAccessIssue=false, reportCallIssue=false
# (pandas-stubs cannot follow the column selections and merges of this vectorised code)
"""The behavioural features of ``fct_message_behaviour`` written in pandas, for the side-by-side
benchmark against dbt-duckdb (bench/baselines.py).

It computes the same point-in-time values over the same lake for the features in ``FEATURES``
(12 of the mart's 14). The two lookalike features are left out (they need a fuzzy join of every
candidate domain against every known domain, which plain pandas has no tool for), so pandas does
less work than dbt here and the measured ratio understates dbt's lead. A feature added to the mart
later is not reproduced here until it is written and listed in ``FEATURES``. The benchmark
(``--check``) and a test (tests/dbt_project/test_baselines.py) hold every value it computes equal
to the mart's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from detection.features.behaviour import (
    AGE_CAP_DAYS,
    HISTORY_CAP,
    POOLED_TENANT_PREFIX,
    VIP_MIN_RECIPIENTS,
)

# the same definitions as the mart and the online state
FEATURES = (
    "sender_prior_messages",
    "sender_days_since_first_seen",
    "pair_prior_messages",
    "recipient_has_replied",
    "domain_prior_messages",
    "domain_days_since_first_seen",
    "display_name_prior_addresses",
    "display_name_seen_internal",
    "display_name_vip_external",
    "recipient_first_time_sender_share",
    "url_domains_new_to_tenant",
    "known_sender_new_link_domains",
)


def _read(lake: Path, table: str, columns: list[str]) -> pd.DataFrame:
    files = sorted((lake / table).glob("*/*.parquet"))
    return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)


def _first_pos(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Per row: the position of the key's first message (rows are in arrival order)."""
    return frame.groupby(keys, sort=False)["pos"].transform("min")


def _days(first: pd.Series, now: pd.Series) -> pd.Series:
    seconds = (now.astype("int64") // 10**6) - (first.astype("int64") // 10**6)
    return (seconds / 86400.0).clip(upper=AGE_CAP_DAYS).where(first.notna())


def compute(lake: Path) -> pd.DataFrame:
    m = _read(
        lake,
        "messages",
        [
            "message_id",
            "tenant_id",
            "received_at",
            "sender_address",
            "sender_domain",
            "sender_org_domain",
            "sender_name_key",
            "primary_recipient",
            "recipient_count",
        ],
    )
    for column in ("sender_address", "sender_domain", "sender_org_domain", "primary_recipient"):
        m[column] = m[column].fillna("").str.lower()
    m["recipient_domain"] = m["primary_recipient"].str.rpartition("@")[2]
    m["name"] = m["sender_name_key"].replace("", None)
    m = m.sort_values(["received_at", "message_id"], kind="stable", ignore_index=True)
    m["pos"] = np.arange(len(m))
    out = pd.DataFrame({"message_id": m["message_id"]})

    sender, pair = (
        ["tenant_id", "sender_address"],
        ["tenant_id", "sender_address", "primary_recipient"],
    )
    domain, recipient = ["tenant_id", "sender_domain"], ["tenant_id", "primary_recipient"]
    sender_prior = m.groupby(sender, sort=False).cumcount()
    out["sender_prior_messages"] = sender_prior.clip(upper=HISTORY_CAP).astype(float)
    first_at = m.groupby(sender, sort=False)["received_at"].transform("first")
    out["sender_days_since_first_seen"] = _days(first_at.where(sender_prior > 0), m["received_at"])
    out["pair_prior_messages"] = (
        m.groupby(pair, sort=False).cumcount().clip(upper=HISTORY_CAP).astype(float)
    )
    domain_prior = m.groupby(domain, sort=False).cumcount()
    out["domain_prior_messages"] = domain_prior.clip(upper=HISTORY_CAP).astype(float)
    domain_first = m.groupby(domain, sort=False)["received_at"].transform("first")
    out["domain_days_since_first_seen"] = _days(
        domain_first.where(domain_prior > 0), m["received_at"]
    )

    # replies: the reverse pair's first message came earlier
    pair_first = m.assign(first=_first_pos(m, pair)).drop_duplicates(pair)[[*pair, "first"]]
    reverse = pair_first.rename(
        columns={"sender_address": "primary_recipient", "primary_recipient": "sender_address"}
    )
    replied = m[[*pair, "pos"]].merge(reverse, on=pair, how="left")
    out["recipient_has_replied"] = (replied["first"] < replied["pos"]).astype(float).to_numpy()

    # recipient profile: share of earlier mail from first-time senders
    first_time = (sender_prior == 0).astype(int)
    grouped = first_time.groupby([m["tenant_id"], m["primary_recipient"]], sort=False)
    prior_first_time = grouped.cumsum() - first_time
    prior_to_recipient = m.groupby(recipient, sort=False).cumcount()
    out["recipient_first_time_sender_share"] = (prior_first_time / prior_to_recipient).where(
        prior_to_recipient > 0
    )

    # display names: first uses per (name, address) and per (name, domain)
    named = m[m["name"].notna()]
    name_address = ["tenant_id", "name", "sender_address"]
    is_first_use = (named["pos"] == _first_pos(named, name_address)).astype(int)
    uses_before = is_first_use.groupby([named["tenant_id"], named["name"]], sort=False).cumsum()
    prior_addresses = uses_before - is_first_use - (1 - is_first_use)
    out["display_name_prior_addresses"] = prior_addresses.reindex(m.index).fillna(0).astype(float)
    name_domain = named.assign(first=_first_pos(named, ["tenant_id", "name", "sender_domain"]))
    name_domain = name_domain.drop_duplicates(["tenant_id", "name", "sender_domain"])
    seen = named[["tenant_id", "name", "recipient_domain", "sender_domain", "pos"]].merge(
        name_domain[["tenant_id", "name", "sender_domain", "first"]].rename(
            columns={"sender_domain": "recipient_domain"}
        ),
        on=["tenant_id", "name", "recipient_domain"],
        how="left",
    )
    internal = (seen["first"] < seen["pos"]) & (seen["sender_domain"] != seen["recipient_domain"])
    out["display_name_seen_internal"] = (
        pd.Series(internal.to_numpy(), index=named.index)
        .reindex(m.index)
        .fillna(False)
        .astype(float)
    )

    # VIPs: internal senders from their first message to >= VIP_MIN_RECIPIENTS people
    internal_mail = m[(m["sender_domain"] == m["recipient_domain"]) & (m["sender_domain"] != "")]
    wide = internal_mail[internal_mail["recipient_count"] >= VIP_MIN_RECIPIENTS]
    vip_since = wide.groupby(sender, sort=False)["pos"].min().rename("vip_pos").reset_index()
    name_first = named.assign(first=_first_pos(named, name_address)).drop_duplicates(name_address)
    vip_names = name_first.merge(vip_since, on=sender)
    vip_names["since"] = vip_names[["first", "vip_pos"]].max(axis=1)
    vip_names = vip_names.groupby(["tenant_id", "name"], sort=False)["since"].min().reset_index()
    vip = named[["tenant_id", "name", "pos", "sender_domain", "recipient_domain"]].merge(
        vip_names, on=["tenant_id", "name"], how="left"
    )
    vip_external = (vip["since"] < vip["pos"]) & (vip["sender_domain"] != vip["recipient_domain"])
    out["display_name_vip_external"] = (
        pd.Series(vip_external.to_numpy(), index=named.index)
        .reindex(m.index)
        .fillna(False)
        .astype(float)
    )

    # link domains new to the tenant
    urls = _read(lake, "urls", ["message_id", "tenant_id", "url_domain"]).drop_duplicates()
    urls = urls.merge(m[["message_id", "pos", "sender_org_domain"]], on="message_id")
    urls["first"] = _first_pos(urls, ["tenant_id", "url_domain"])
    new = urls[urls["first"] == urls["pos"]]
    new = new.assign(new=1, foreign=(new["url_domain"] != new["sender_org_domain"]).astype(int))
    per_message = new.groupby("message_id")[["new", "foreign"]].sum()
    counts = per_message.reindex(m["message_id"]).fillna(0).to_numpy()
    out["url_domains_new_to_tenant"] = counts[:, 0].astype(float)
    out["known_sender_new_link_domains"] = np.where(sender_prior > 0, counts[:, 1], 0).astype(float)
    # unknown history is missing: a tenant's first message, and pooled corpora
    first_of_tenant = m.groupby("tenant_id", sort=False).cumcount().to_numpy() == 0
    pooled = m["tenant_id"].str.startswith(POOLED_TENANT_PREFIX).to_numpy()
    out.loc[first_of_tenant | pooled, list(FEATURES)] = np.nan
    return out
