"""Message builders for every kind of simulated mail: safe traffic, hard negatives and attacks.

Each builder takes a :class:`Draft` (who, when, which tenant) and returns a labelled
:class:`~detection.mail.schema.Message`. Templates are deliberately varied so the model cannot learn
one sentence per category.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime

from detection.mail.schema import Attachment, Message, Url
from detection.simulation.lookalikes import lookalike, random_domain, subdomain_lookalike
from detection.simulation.world import (
    BRANDS,
    FREEMAIL_DOMAINS,
    NEWSLETTER_SENDERS,
    SAAS_SENDERS,
    Person,
    Tenant,
)

PASS = ("pass", "pass", "pass")


@dataclass
class Draft:
    rng: random.Random
    tenant: Tenant
    when: datetime
    message_id: str
    drifted: bool = False


def attachment(message_id: str, filename: str, content_type: str, size: int) -> Attachment:
    content = attachment_bytes(message_id, filename, size)
    return Attachment(filename, content_type, size, hashlib.sha256(content).hexdigest())


def attachment_bytes(message_id: str, filename: str, size: int) -> bytes:
    """Deterministic stand-in content for a simulated attachment (so hashes survive rendering)."""
    block = hashlib.sha256(f"{message_id}/{filename}".encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def url(host: str, path: str, text: str = "") -> Url:
    return Url(f"https://{host}/{path}", host, text)


def build_message(
    d: Draft,
    sender: Person | tuple[str, str],
    to: list[Person] | list[str],
    subject: str,
    body: str,
    *,
    label: str,
    category: str,
    auth: tuple[str, str, str] = PASS,
    reply_to: str = "",
    return_path: str = "",
    cc: list[Person] | None = None,
    urls: tuple[Url, ...] = (),
    attachments: tuple[Attachment, ...] = (),
    forms: int = 0,
    images: int = 0,
    message_id_domain: str | None = None,
) -> Message:
    name, address = (sender.name, sender.address) if isinstance(sender, Person) else sender
    to_addresses = tuple(p.address if isinstance(p, Person) else p for p in to)
    id_domain = message_id_domain if message_id_domain is not None else address.rpartition("@")[2]
    header_id = f"<{d.message_id}@{id_domain}>" if id_domain else ""
    return Message(
        message_id=d.message_id,
        tenant_id=d.tenant.tenant_id,
        received_at=d.when,
        sender_address=address,
        sender_display_name=name,
        reply_to_address=reply_to,
        return_path_address=return_path or address,
        to_addresses=to_addresses,
        cc_addresses=tuple(p.address for p in (cc or [])),
        subject=subject,
        body_text=body,
        header_message_id=header_id,
        header_date=d.when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        spf_result=auth[0],
        dkim_result=auth[1],
        dmarc_result=auth[2],
        html_form_count=forms,
        html_image_count=images,
        urls=urls,
        attachments=attachments,
        label=label,
        category=category,
        source="simulator",
    )


def paragraphs(*lines: str) -> str:
    return "\n\n".join(line for line in lines if line)


def signature(person: Person | str) -> str:
    return f"Thanks,\n{person.name if isinstance(person, Person) else person}"


# ----------------------------------------------------------------------------------------------
# safe mail
# ----------------------------------------------------------------------------------------------
_INTERNAL_TOPICS = (
    (
        "Q{q} planning",
        "Can we meet on {day} to go through the Q{q} plan? I added notes to the doc.",
    ),
    ("Re: project {p} status", "Status update: milestone {n} is done, testing starts next week."),
    ("Lunch {day}?", "Anyone up for lunch on {day}? The new place around the corner."),
    ("Slides for the {p} review", "Attached are the slides for the {p} review. Comments welcome."),
    ("Customer call notes", "Notes from today's call with the customer: they want a demo of {p}."),
    ("Re: hiring for {p}", "I interviewed two candidates for {p}; both look strong."),
    ("Expense report", "I submitted my expense report for the {p} trip, please approve."),
    ("Offsite agenda", "Draft agenda for the offsite is in the shared folder."),
    ("Quick question", "Do you know who owns the {p} dashboard now?"),
    ("Budget {q}", "Finance needs the budget numbers for Q{q} by {day}."),
)
_PROJECTS = ("Atlas", "Phoenix", "Orion", "Nimbus", "Falcon", "Harbor", "Summit", "Quartz")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def _fill(rng: random.Random, text: str) -> str:
    return text.format(
        q=rng.randint(1, 4), p=rng.choice(_PROJECTS), day=rng.choice(_DAYS), n=rng.randint(2, 9)
    )


def internal(d: Draft, sender: Person, to: list[Person], cc: list[Person]) -> Message:
    subject, text = d.rng.choice(_INTERNAL_TOPICS)
    subject, body = _fill(d.rng, subject), _fill(d.rng, text)
    if sender.is_vip and d.rng.random() < 0.3:  # hard negative: urgent internal request
        subject, body = (
            "Urgent: need this today",
            "Please send me the board deck today, it is urgent.",
        )
    urls: tuple[Url, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    if d.rng.random() < 0.2:
        link = url(f"sharepoint.{d.tenant.domain}", f"sites/{d.rng.choice(_PROJECTS).lower()}")
        urls = (link,)
        body += f"\n\nLink: {link.href}"
    if d.rng.random() < 0.15:
        name = d.rng.choice(("slides.pptx", "notes.docx", "numbers.xlsx", "plan.pdf"))
        attachments = (attachment(d.message_id, name, "application/octet-stream", 2048),)
    return build_message(
        d,
        sender,
        to,
        subject,
        paragraphs(body, signature(sender)),
        label="safe",
        category="safe",
        cc=cc,
        urls=urls,
        attachments=attachments,
    )


def vendor_mail(d: Draft, contact: Person, employee: Person, bank_change: bool) -> Message:
    vendor_domain = contact.address.rpartition("@")[2]
    number = d.rng.randint(10000, 99999)
    if bank_change:  # hard negative: a properly announced bank change from the real vendor
        subject = "Notice: our bank details change next quarter"
        body = paragraphs(
            "As announced in our letter, our bank account changes next quarter.",
            "Please verify the new details by phone with your usual account manager "
            "before updating your records.",
            signature(contact),
        )
    else:
        subject = d.rng.choice((f"Invoice {number}", f"Order {number} shipped", "Quarterly review"))
        body = paragraphs(f"Please find {subject.lower()} attached, as agreed.", signature(contact))
    attachments = (attachment(d.message_id, f"invoice_{number}.pdf", "application/pdf", 4096),)
    urls = (url(f"portal.{vendor_domain}", f"orders/{number}", "Customer portal"),)
    return build_message(
        d,
        contact,
        [employee],
        subject,
        body + f"\n\nPortal: {urls[0].href}",
        label="safe",
        category="safe",
        urls=urls,
        attachments=attachments,
    )


def partner_mail(d: Draft, partner: Person, employee: Person, outbound: bool) -> Message:
    subject, text = d.rng.choice(_INTERNAL_TOPICS)
    sender, to = (employee, partner) if outbound else (partner, employee)
    return build_message(
        d,
        sender,
        [to],
        _fill(d.rng, subject),
        paragraphs(_fill(d.rng, text), signature(sender)),
        label="safe",
        category="safe",
    )


def first_time_external(d: Draft, employee: Person) -> Message:
    """Hard negative: a legitimate stranger (recruiter, prospect, conference) writes once."""
    first = d.rng.choice(("Alex", "Sam", "Jordan", "Taylor", "Morgan"))
    domain = d.rng.choice((random_domain(d.rng), *FREEMAIL_DOMAINS[:2]))
    sender = (f"{first} Parker", f"{first.lower()}.parker@{domain}")
    subject = d.rng.choice(("Speaking opportunity", "Partnership inquiry", "Your talk last week"))
    link = url(f"www.{domain}", "about", "our website")
    body = paragraphs(
        f"Hello {employee.name.split()[0]},",
        "I enjoyed your talk and would love to connect about a possible collaboration.",
        f"More about us: {link.href}",
        signature(sender[0]),
    )
    return build_message(
        d, sender, [employee], subject, body, label="safe", category="safe", urls=(link,)
    )


def announcement(d: Draft, sender: Person, recipients: list[Person]) -> Message:
    """An internal all-hands note: one sender, the whole organisation on To and Cc. This is what
    makes an executive's name recognisable from the mail alone (a wide-audience sender)."""
    subject = d.rng.choice(
        (
            "All hands on Friday",
            "Quarterly update",
            "Welcome our new team",
            "Office closure next week",
            "Company update",
        )
    )
    body = paragraphs("Hi all,", "A short update from me ahead of the week.", signature(sender))
    return build_message(
        d, sender, recipients[:1], subject, body, label="safe", category="safe", cc=recipients[1:]
    )


def newsletter(d: Draft, recipients: list[Person]) -> Message:
    name, address = d.rng.choice(NEWSLETTER_SENDERS)
    host = address.rpartition("@")[2]
    urls = tuple(
        url(f"links.{host}", f"c/{d.rng.randrange(10**6)}", f"Read story {i + 1}")
        for i in range(d.rng.randint(5, 15))
    )
    body = paragraphs(
        f"{name}: this week's top stories",
        *(f"{u.text}: {u.href}" for u in urls),
        "Unsubscribe: manage your preferences.",
    )
    return build_message(
        d,
        (name, address),
        recipients,
        f"{name} - this week",
        body,
        label="safe",
        category="safe",
        urls=urls,
        images=d.rng.randint(1, 6),
    )


def saas_notification(d: Draft, employee: Person) -> Message:
    name, address = d.rng.choice(SAAS_SENDERS)
    host = address.rpartition("@")[2]
    link = url(f"app.{host}", f"n/{d.rng.randrange(10**6)}", "View in app")
    subject = d.rng.choice(
        (
            "You were mentioned",
            "New sign-in to your account",
            "Your weekly summary",
            "Action required: review request",
        )
    )
    body = paragraphs(f"{subject}.", f"{link.text}: {link.href}", f"- The {name} team")
    return build_message(
        d, (name, address), [employee], subject, body, label="safe", category="safe", urls=(link,)
    )


# ----------------------------------------------------------------------------------------------
# attacks
# ----------------------------------------------------------------------------------------------
URGENT = ("immediately", "within 24 hours", "today", "as soon as possible", "before end of day")


def credential_phishing(d: Draft, victim: Person) -> Message:
    rng = d.rng
    brand, brand_domain = rng.choice(list(BRANDS.items()))
    if rng.random() < 0.3:  # impersonate the victim's own organisation instead
        brand, brand_domain = f"{d.tenant.domain.split('.')[0].title()} IT", d.tenant.domain
    host = subdomain_lookalike(rng, brand_domain) if d.drifted else lookalike(rng, brand_domain)
    sender_domain = host if rng.random() < 0.6 else random_domain(rng)
    link = url(
        host,
        f"login?session={rng.randrange(10**8)}",
        rng.choice(
            (f"https://login.{brand_domain}", "Sign in", "Verify account", "Review document")
        ),
    )
    subject = rng.choice(
        (
            "Your password expires today",
            "Unusual sign-in activity",
            "Action required: verify your account",
            "You have a new shared document",
            "Mailbox storage full",
        )
    )
    auth = rng.choice((PASS, ("pass", "none", "none"), ("softfail", "none", "fail")))
    if d.drifted and rng.random() < 0.7:  # drift: QR-code / image-only lure
        qr = attachment(d.message_id, "scan_me.png", "image/png", 1200)
        return build_message(
            d,
            (brand, f"no-reply@{sender_domain}"),
            [victim],
            f"{subject} - scan to continue",
            "",
            label="attack",
            category="credential_phishing",
            auth=auth,
            attachments=(qr,),
            images=1,
        )
    body = paragraphs(
        f"Dear {victim.name.split()[0]},",
        f"We detected an issue with your {brand} account. To avoid suspension, verify your "
        f"credentials {rng.choice(URGENT)}.",
        f"{'Sign in here' if link.text.startswith('https://') else link.text}: {link.href}",
        f"The {brand} security team",
    )
    forms = 1 if rng.random() < 0.25 else 0
    return build_message(
        d,
        (brand, f"no-reply@{sender_domain}"),
        [victim],
        subject,
        body,
        label="attack",
        category="credential_phishing",
        auth=auth,
        urls=(link,),
        forms=forms,
    )


def bec(d: Draft, victim: Person) -> Message:
    rng = d.rng
    exec_ = rng.choice(d.tenant.vips)
    first, last = exec_.name.split()[0], exec_.name.split()[-1]
    domain = rng.choice(FREEMAIL_DOMAINS) if rng.random() < 0.6 else lookalike(rng, d.tenant.domain)
    address = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{domain}"
    reply_to = f"{first.lower()}.ceo@{rng.choice(FREEMAIL_DOMAINS)}" if rng.random() < 0.4 else ""
    ask = rng.choice(
        (
            "I need you to process a wire transfer for a confidential acquisition today.",
            "Please buy 10 gift cards of $200 each for a client appreciation. Keep this "
            "between us.",
            "Are you at your desk? I need a favour, a payment must go out urgently.",
            "Update the payroll direct deposit for my account before the next run, details "
            "to follow.",
        )
    )
    subject = rng.choice(("Quick request", "Urgent", "Are you available?", "Confidential", ""))
    body = paragraphs(
        f"Hi {victim.name.split()[0]},",
        ask,
        "I am in meetings all day, reply by email only.",
        exec_.name,
    )
    return build_message(
        d,
        (exec_.name, address),
        [victim],
        subject,
        body,
        label="attack",
        category="bec",
        reply_to=reply_to,
        auth=rng.choice((PASS, ("pass", "pass", "none"))),
    )


def vendor_fraud(d: Draft, victim: Person) -> Message:
    rng = d.rng
    vendor = rng.choice(d.tenant.vendors)
    contact = rng.choice(vendor.contacts)
    domain = lookalike(rng, vendor.domain)
    address = f"{contact.address.partition('@')[0]}@{domain}"
    number = rng.randint(10000, 99999)
    body = paragraphs(
        "Hello,",
        "Please note our bank details have changed. Kindly update our account before paying "
        f"invoice {number}; the old account is no longer valid. Payment is overdue, please "
        f"settle {rng.choice(URGENT)}.",
        signature(contact),
    )
    attachments = (attachment(d.message_id, f"invoice_{number}.pdf", "application/pdf", 3072),)
    return build_message(
        d,
        (contact.name, address),
        [victim],
        f"Updated bank details - invoice {number}",
        body,
        label="attack",
        category="vendor_fraud",
        attachments=attachments,
        auth=rng.choice((PASS, ("pass", "none", "none"))),
    )


def account_takeover(d: Draft, victim: Person) -> Message:
    """A real, known vendor account sends a first-time link: behavioural, content looks normal."""
    rng = d.rng
    vendor = rng.choice(d.tenant.vendors)
    contact = rng.choice(vendor.contacts)
    host = random_domain(rng)
    link = url(host, f"share/{rng.randrange(10**8)}", "View shared document")
    body = paragraphs(
        f"Hi {victim.name.split()[0]},",
        "I shared a document with you regarding our next order. Please review and sign in to "
        "access it.",
        f"{link.text}: {link.href}",
        signature(contact),
    )
    return build_message(
        d,
        contact,
        [victim],
        rng.choice(("Shared document", "Please review", "Updated order")),
        body,
        label="attack",
        category="account_takeover",
        urls=(link,),
    )


_MALWARE_FILES = (
    ("invoice.docm", "application/vnd.ms-word.document.macroenabled.12"),
    ("payment.xlsm", "application/vnd.ms-excel.sheet.macroenabled.12"),
    ("document.html", "text/html"),
    ("scan.iso", "application/x-iso9660-image"),
    ("files.zip", "application/zip"),
    ("invoice.pdf.exe", "application/octet-stream"),
    ("statement.img", "application/octet-stream"),
    ("order.js", "application/javascript"),
)


def malware(d: Draft, victim: Person) -> Message:
    rng = d.rng
    filename, content_type = rng.choice(_MALWARE_FILES)
    domain = random_domain(rng)
    sender = (rng.choice(("Accounts", "Billing Dept", "Shipping Notice", "HR")), f"info@{domain}")
    body = paragraphs(
        "Hello,", "Please see the attached document and enable content to view it.", "Regards"
    )
    payload = attachment(d.message_id, filename, content_type, rng.randint(2000, 9000))
    return build_message(
        d,
        sender,
        [victim],
        rng.choice(("Invoice attached", "Payment advice", "Delivery failed")),
        body,
        label="attack",
        category="malware",
        attachments=(payload,),
        auth=rng.choice((("softfail", "none", "none"), ("fail", "fail", "fail"), PASS)),
    )


def extortion_scam(d: Draft, victim: Person) -> Message:
    rng = d.rng
    domain = rng.choice((*FREEMAIL_DOMAINS, random_domain(rng)))
    text = rng.choice(
        (
            "I have access to your device and recorded you. Send 1500 USD in bitcoin within "
            "48 hours or "
            "everything goes to your contacts. Do not tell anyone.",
            "Congratulations! You won 2,500,000 EUR in the international lottery. Send your "
            "bank details and "
            "a processing fee to claim your prize.",
            "I am a lawyer handling an unclaimed inheritance of 4.5 million dollars. Reply with "
            "your details.",
        )
    )
    return build_message(
        d,
        ("", f"{rng.choice(('support', 'claims', 'admin'))}{rng.randint(1, 999)}@{domain}"),
        [victim],
        rng.choice(("Your account was hacked", "Prize notification", "Confidential proposal")),
        text,
        label="attack",
        category="extortion_scam",
        auth=rng.choice((PASS, ("none", "none", "none"))),
        message_id_domain=rng.choice(("", domain)),
    )


ATTACK_BUILDERS = {
    "credential_phishing": credential_phishing,
    "bec": bec,
    "vendor_fraud": vendor_fraud,
    "account_takeover": account_takeover,
    "malware": malware,
    "extortion_scam": extortion_scam,
}
