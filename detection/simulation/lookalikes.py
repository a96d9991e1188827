"""How attackers forge domains: typos, homoglyph swaps, added words, other TLDs, subdomains."""

from __future__ import annotations

import random

_SWAPS = {"o": "0", "l": "1", "i": "1", "e": "3", "a": "4", "m": "rn", "w": "vv", "s": "5"}
_WORDS = ("secure", "login", "verify", "support", "account", "portal", "billing", "online")
_TLDS = ("net", "co", "info", "xyz", "top", "online", "biz", "site")


def lookalike(rng: random.Random, domain: str) -> str:
    """A domain a hurried reader would take for ``domain``."""
    name, _, tld = domain.partition(".")
    tactic = rng.randrange(5)
    if tactic == 0:  # character swap (o -> 0, m -> rn, ...)
        positions = [i for i, ch in enumerate(name) if ch in _SWAPS]
        if positions:
            i = rng.choice(positions)
            return f"{name[:i]}{_SWAPS[name[i]]}{name[i + 1 :]}.{tld}"
    if tactic == 1 and len(name) > 4:  # dropped or doubled letter
        i = rng.randrange(1, len(name) - 1)
        variant = name[:i] + name[i + 1 :] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]
        return f"{variant}.{tld}"
    if tactic == 2:  # added word
        word = rng.choice(_WORDS)
        return f"{name}-{word}.{tld}" if rng.random() < 0.5 else f"{word}-{name}.{tld}"
    if tactic == 3:  # other TLD
        return f"{name}.{rng.choice([t for t in _TLDS if t != tld])}"
    return f"{name}-{rng.choice(_WORDS)}.{rng.choice(_TLDS)}"


def subdomain_lookalike(rng: random.Random, domain: str) -> str:
    """The drift scenario's new style: the real name as a subdomain of an attacker's domain."""
    attacker = f"{rng.choice(_WORDS)}-{rng.randrange(100, 999)}.{rng.choice(_TLDS)}"
    return f"{rng.choice(_WORDS)}.{domain}.{attacker}"


def random_domain(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = "".join(rng.choice(letters) for _ in range(rng.randint(6, 11)))
    return f"{name}.{rng.choice((*_TLDS, 'com', 'ru', 'cn'))}"
