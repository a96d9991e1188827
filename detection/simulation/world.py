"""The simulated world: organisations (tenants), their people, vendors, partners and the brands
attackers imitate. Built once per simulation from a seeded random generator."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

COMPANY_NAMES = (
    "acmecorp",
    "globex",
    "initech",
    "umbrellagroup",
    "hooli",
    "vandelay",
    "wayneent",
    "starkind",
    "tyrellcorp",
    "cyberdyne",
    "soylentco",
    "gringotts",
    "oscorp",
    "monarchsys",
    "pendant",
    "blueharbor",
    "northpeak",
    "silverline",
    "redwoodlabs",
    "brightpath",
)
VENDOR_NAMES = (
    "northwind-supplies",
    "contoso-logistics",
    "fabrikam",
    "adventureworks",
    "tailspintoys",
    "wideworldimporters",
    "litware",
    "proseware",
    "lucernepublishing",
    "margiestravel",
    "alpineski",
    "coho-winery",
    "fourthcoffee",
    "graphicdesigninstitute",
    "humongousinsurance",
    "woodgrovebank",
    "treyresearch",
    "wingtiptoys",
    "blueyonderair",
    "cpandl",
)
PARTNER_DOMAINS = (
    "lawfirm-partners.com",
    "auditco.com",
    "univ-research.edu",
    "consultgroup.io",
    "marketingpros.net",
    "recruitwell.com",
    "cityhall.gov",
    "bigclient.com",
)
FREEMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "proton.me", "aol.com")
FIRST_NAMES = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Priya",
    "Wei",
    "Ahmed",
    "Fatima",
    "Carlos",
    "Ana",
    "Kenji",
    "Yuki",
    "Olga",
    "Ivan",
    "Amara",
    "Kwame",
    "Lena",
    "Lucas",
    "Sofia",
    "Mateo",
    "Noah",
    "Emma",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Patel",
    "Chen",
    "Nakamura",
    "Okafor",
    "Novak",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Andersson",
)
ROLES = ("executive", "finance", "it", "hr", "staff")
ROLE_WEIGHTS = (0.06, 0.12, 0.08, 0.06, 0.68)
BRANDS = {
    "Microsoft 365": "microsoft.com",
    "DocuSign": "docusign.com",
    "PayPal": "paypal.com",
    "DHL Express": "dhl.com",
    "Amazon": "amazon.com",
    "Google Workspace": "google.com",
    "Okta": "okta.com",
    "Dropbox": "dropbox.com",
    "Adobe Sign": "adobe.com",
    "Apple": "apple.com",
}
SAAS_SENDERS = (
    ("GitHub", "notifications@github.com"),
    ("Slack", "feedback@slack.com"),
    ("Atlassian Jira", "jira@atlassian.net"),
    ("Zoom", "no-reply@zoom.us"),
    ("Salesforce", "noreply@salesforce.com"),
    ("Workday", "workday@myworkday.com"),
    ("DocuSign", "dse@docusign.net"),
    ("Microsoft 365", "no-reply@microsoft.com"),
)
NEWSLETTER_SENDERS = (
    ("Industry Weekly", "news@industryweekly.com"),
    ("TechCrunch Daily", "newsletter@techcrunch.com"),
    ("HBR Insights", "emails@hbr.org"),
    ("The Economist", "newsletters@economist.com"),
    ("LinkedIn", "messages-noreply@linkedin.com"),
)


@dataclass(frozen=True)
class Person:
    name: str
    address: str
    role: str = "staff"

    @property
    def is_vip(self) -> bool:
        return self.role == "executive"


@dataclass
class Vendor:
    name: str
    domain: str
    contacts: list[Person]
    bank_change_day: int | None = None  # a legitimate, properly announced bank change


@dataclass
class Tenant:
    tenant_id: str
    domain: str
    employees: list[Person]
    vendors: list[Vendor]
    partners: list[Person]
    contacts: dict[str, list[tuple[Person, float]]] = field(default_factory=dict)

    def by_role(self, role: str) -> list[Person]:
        found = [p for p in self.employees if p.role == role]
        return found or self.employees

    @property
    def vips(self) -> list[Person]:
        return self.by_role("executive")


def _person(rng: random.Random, domain: str, role: str, used: set[str]) -> Person:
    for _ in range(1000):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        if rng.random() < 0.2:
            local = f"{first[0]}{last}".lower()
        address = f"{local}@{domain}"
        if address not in used:
            used.add(address)
            return Person(f"{first} {last}", address, role)
    raise RuntimeError(f"could not draw a unique person for {domain}; lower the employee count")


def build_tenant(rng: random.Random, index: int, employees: int) -> Tenant:
    """One organisation with ``employees`` people, vendors and partners."""
    name = COMPANY_NAMES[index % len(COMPANY_NAMES)] + (
        "" if index < len(COMPANY_NAMES) else str(index)
    )
    domain = f"{name}.com"
    used: set[str] = set()
    staff: list[Person] = []
    for position in range(employees):
        # every tenant has at least two executives and one finance person
        role = "executive" if position < 2 else "finance" if position == 2 else ""
        role = role or rng.choices(ROLES, ROLE_WEIGHTS)[0]
        staff.append(_person(rng, domain, role, used))
    vendors = []
    for vendor_name in rng.sample(VENDOR_NAMES, k=min(6, len(VENDOR_NAMES))):
        vendor_domain = f"{vendor_name}.com"
        contacts = [_person(rng, vendor_domain, "vendor", used) for _ in range(rng.randint(1, 2))]
        vendors.append(Vendor(vendor_name, vendor_domain, contacts))
    partners = [
        _person(rng, rng.choice(PARTNER_DOMAINS), "partner", used)
        for _ in range(max(3, employees // 4))
    ]
    tenant = Tenant(f"t{index:03d}-{name}", domain, staff, vendors, partners)
    for person in staff:
        tenant.contacts[person.address] = _contacts(rng, person, staff)
    return tenant


def _contacts(
    rng: random.Random, person: Person, staff: list[Person]
) -> list[tuple[Person, float]]:
    """Heavy-tailed internal contact list: a few frequent correspondents, many rare ones."""
    wanted = min(len(staff) - 1, rng.randint(4, 15))
    chosen = [p for p in rng.sample(staff, k=wanted + 1) if p.address != person.address][:wanted]
    return [(p, 1.0 / (rank + 1) ** 1.2) for rank, p in enumerate(chosen)]


def build_world(seed: int, tenants: int, employees: int) -> list[Tenant]:
    if tenants < 1 or employees < 5:
        raise ValueError(
            f"need at least 1 tenant and 5 employees per tenant, got tenants={tenants}, "
            f"employees={employees}"
        )
    rng = random.Random(seed)
    return [build_tenant(rng, index, employees) for index in range(tenants)]
