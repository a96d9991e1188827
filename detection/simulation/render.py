"""Render a simulated :class:`~detection.mail.schema.Message` as RFC 822 bytes, so the parser and
the scorer can be exercised on simulated mail exactly as on real mail."""

from __future__ import annotations

import html
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from detection.mail.schema import Message, domain_of
from detection.simulation.content import attachment_bytes


def _address(name: str, address: str) -> Address | str:
    local, _, domain = address.partition("@")
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, IndexError):
        return address


def _html(message: Message) -> str:
    anchored = {u.href: u.text for u in message.urls if u.text}
    paragraphs = []
    for block in message.body_text.split("\n\n"):
        words = []
        for word in block.split(" "):
            if word in anchored:  # "Label: href" becomes a link whose visible text is the label
                label = html.escape(anchored[word])
                if words and words[-1] == f"{label}:":
                    words.pop()
                words.append(f'<a href="{html.escape(word)}">{label}</a>')
            else:
                words.append(html.escape(word))
        paragraphs.append(f"<p>{' '.join(words)}</p>")
    paragraphs.extend(f'<img src="cid:image{i}">' for i in range(message.html_image_count))
    paragraphs.extend(
        '<form action="https://collect.invalid/post"><input type="password" name="p"></form>'
        for _ in range(message.html_form_count)
    )
    return "<html><body>" + "\n".join(paragraphs) + "</body></html>"


def render_rfc822(message: Message) -> bytes:
    """The message as it would arrive at the mail gateway."""
    out = EmailMessage(policy=policy.SMTP)
    out["From"] = _address(message.sender_display_name, message.sender_address)
    if message.to_addresses:
        out["To"] = ", ".join(message.to_addresses)
    if message.cc_addresses:
        out["Cc"] = ", ".join(message.cc_addresses)
    out["Subject"] = message.subject
    out["Date"] = message.header_date
    if message.header_message_id:
        out["Message-ID"] = message.header_message_id
    if message.reply_to_address:
        out["Reply-To"] = message.reply_to_address
    if message.return_path_address:
        out["Return-Path"] = f"<{message.return_path_address}>"
    gateway = domain_of(message.primary_recipient) or "gateway.invalid"
    out["Authentication-Results"] = (
        f"mx.{gateway}; spf={message.spf_result} smtp.mailfrom={message.sender_domain}; "
        f"dkim={message.dkim_result}; dmarc={message.dmarc_result}"
    )
    out.set_content(message.body_text + "\n")
    if any(u.text for u in message.urls) or message.html_form_count or message.html_image_count:
        out.add_alternative(_html(message), subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        out.add_attachment(
            attachment_bytes(message.message_id, attachment.filename, attachment.size),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return out.as_bytes()
