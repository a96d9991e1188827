"""Hard cases on both sides: attacks whose content looks clean, so behaviour must catch them, and
safe mail that looks like an attack.

Attacks: a hijacked thread (a known vendor contact's real account replies in an existing
conversation with new bank details), a taken-over vendor account sending a normal-looking invoice
with a changed account, a lookalike of a long-known partner asking to pay, and a targeted request
to finance from an executive's name on free mail, with no link. Safe: password resets and
security notices from services the organisation uses, a new vendor's first invoice with its bank
details, an executive's genuine urgent payment request from their own account, marketing with
tracking links.
"""

from __future__ import annotations

from detection.mail.schema import Message
from detection.simulation.content import (
    URGENT,
    Draft,
    attachment,
    build_message,
    paragraphs,
    signature,
    url,
)
from detection.simulation.lookalikes import lookalike, random_domain
from detection.simulation.world import FREEMAIL_DOMAINS, NEWSLETTER_SENDERS, SAAS_SENDERS, Person


def thread_hijack(d: Draft, victim: Person) -> Message:
    """A vendor contact's real, known account replies in the invoice thread with new bank
    details: sender, domain and authentication are genuine."""
    rng = d.rng
    contact = rng.choice(rng.choice(d.tenant.vendors).contacts)
    number = rng.randint(10000, 99999)
    body = paragraphs(
        f"Hi {victim.name.split()[0]},",
        f"Following up on invoice {number} below: our accounting moved to a new bank this month, "
        f"please use the account in the attached letter for this payment {rng.choice(URGENT)}.",
        signature(contact),
    )
    letter = attachment(d.message_id, "bank_letter.pdf", "application/pdf", 2048)
    return build_message(
        d,
        contact,
        [victim],
        f"Re: Invoice {number}",
        body,
        label="attack",
        category="account_takeover",
        attachments=(letter,),
    )


def vendor_takeover_invoice(d: Draft, victim: Person) -> Message:
    """A taken-over vendor account sends an invoice that looks like every other one, but to a
    changed account."""
    rng = d.rng
    contact = rng.choice(rng.choice(d.tenant.vendors).contacts)
    number = rng.randint(10000, 99999)
    body = paragraphs(
        f"Please find invoice {number} attached, as agreed.",
        "Note the remittance account on the invoice has changed; kindly update it before payment.",
        signature(contact),
    )
    invoice = attachment(d.message_id, f"invoice_{number}.pdf", "application/pdf", 4096)
    return build_message(
        d,
        contact,
        [victim],
        f"Invoice {number}",
        body,
        label="attack",
        category="vendor_fraud",
        attachments=(invoice,),
    )


def partner_lookalike(d: Draft, victim: Person) -> Message:
    """A domain one character from a long-known partner's asks for a payment."""
    rng = d.rng
    partner = rng.choice(d.tenant.partners)
    local, _, domain = partner.address.partition("@")
    body = paragraphs(
        f"Hi {victim.name.split()[0]},",
        "As discussed, could you process the outstanding payment to our new account today? "
        "I'll send the remittance details once you confirm.",
        signature(partner),
    )
    return build_message(
        d,
        (partner.name, f"{local}@{lookalike(rng, domain)}"),
        [victim],
        "Re: outstanding payment",
        body,
        label="attack",
        category="vendor_fraud",
    )


def targeted_finance_request(d: Draft, victim: Person) -> Message:
    """Low-volume BEC: an executive's name from free mail to finance, no link, no attachment."""
    rng = d.rng
    executive = rng.choice(d.tenant.vips)
    local = executive.name.lower().replace(" ", ".")
    body = paragraphs(
        f"{victim.name.split()[0]},",
        "I need you to handle a confidential wire for an acquisition today. Reply with the "
        "earliest you can send it; I am in meetings all afternoon.",
        executive.name,
    )
    return build_message(
        d,
        (executive.name, f"{local}@{rng.choice(FREEMAIL_DOMAINS)}"),
        [victim],
        "Quick request",
        body,
        label="attack",
        category="bec",
    )


HARD_ATTACKS = {
    "account_takeover": thread_hijack,
    "vendor_fraud": vendor_takeover_invoice,
    "bec": targeted_finance_request,
}


def password_reset(d: Draft, employee: Person) -> Message:
    """A real password reset or security notice from a service the organisation uses: credential
    language and a login link, all genuine."""
    rng = d.rng
    name, address = rng.choice(SAAS_SENDERS)
    host = address.rpartition("@")[2]
    link = url(f"accounts.{host}", f"reset/{rng.randrange(10**8)}", "Reset your password")
    subject = rng.choice(
        (
            "Reset your password",
            "Security alert: new sign-in",
            "Verify your email address",
            "Your password was changed",
        )
    )
    body = paragraphs(
        f"We received a request to reset the password of your {name} account.",
        f"{link.text}: {link.href}",
        "If you did not request this, you can ignore this message; your password stays the same.",
        f"- The {name} security team",
    )
    return build_message(
        d, (name, address), [employee], subject, body, label="safe", category="safe", urls=(link,)
    )


def new_vendor_first_invoice(d: Draft, employee: Person) -> Message:
    """A genuine new supplier's first invoice, with its bank details: a first-time sender asking
    to be paid."""
    rng = d.rng
    domain = random_domain(rng)
    number = rng.randint(10000, 99999)
    body = paragraphs(
        "Hello,",
        f"Thank you for your order. Please find our first invoice {number} attached; our bank "
        "details are on the invoice. Payment terms are 30 days.",
        "Accounts team",
    )
    invoice = attachment(d.message_id, f"invoice_{number}.pdf", "application/pdf", 4096)
    return build_message(
        d,
        ("Accounts", f"accounts@{domain}"),
        [employee],
        f"Invoice {number}",
        body,
        label="safe",
        category="safe",
        attachments=(invoice,),
    )


def urgent_executive_request(d: Draft, executive: Person, employee: Person) -> Message:
    """An executive's genuine urgent request to pay something today, from their own account: the
    words of CEO fraud, the behaviour of a colleague."""
    rng = d.rng
    subject, ask = rng.choice(
        (
            ("Urgent: payment today", "the conference deposit has to be paid"),
            ("Need this paid", "the contractor's overdue invoice needs to go out"),
            ("Wire before close", "the legal retainer must be wired"),
        )
    )
    body = paragraphs(
        f"{employee.name.split()[0]},",
        f"Sorry for the short notice: {ask} {rng.choice(URGENT)}. Details are in the usual "
        "folder; call me if anything is unclear.",
        executive.name,
    )
    return build_message(d, executive, [employee], subject, body, label="safe", category="safe")


def tracked_marketing(d: Draft, employee: Person) -> Message:
    """Marketing whose every link goes through a click-tracking redirect with a long query."""
    rng = d.rng
    name, address = rng.choice(NEWSLETTER_SENDERS)
    tracker = f"click.{address.rpartition('@')[2]}"
    urls = tuple(
        url(tracker, f"ls/click?upn={rng.randrange(16**24):024x}&uid={rng.randrange(10**9)}", text)
        for text in ("Shop now", "See the offer", "Unsubscribe")
    )
    body = paragraphs(f"{name}: this week only, 30% off.", *(f"{u.text}: {u.href}" for u in urls))
    return build_message(
        d,
        (name, address),
        [employee],
        "This week only: 30% off",
        body,
        label="safe",
        category="safe",
        urls=urls,
        images=rng.randint(3, 9),
    )
