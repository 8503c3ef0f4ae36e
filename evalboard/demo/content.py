"""Content of the demo: model versions, prompts, good answers and planted failures.

Every builder takes a `random.Random` and returns a `Task`: one input with its good output
and, per failure mode that can plausibly show up on it, an output exhibiting that failure.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

HALLUCINATION = "hallucination"
WRONG_FORMAT = "wrong format"
BIASED = "biased or insulting"
GARBLED = "garbled or incoherent"
EDGE = "edge case mishandled"
FAILURE_MODES = (HALLUCINATION, WRONG_FORMAT, BIASED, GARBLED, EDGE)

BASE_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class VersionSpec:
    """A demo model version: lineage, notes, serving profile and planted failure rates."""

    name: str
    # about this many days into the demo period the version is created; it is deployed 12 h
    # later, once the share (day + 12 h) / period of the period's traffic has been served
    day: float
    notes: str
    failure_rates: dict[str, float]  # chance of each mode on a call where it can show up
    ttft_ms: float  # time to first token (median)
    ms_per_token: float
    timeout_rate: float
    chatty: bool = False  # breaks formats by wrapping them in prose, not by bad syntax


VERSIONS = (
    VersionSpec(
        name="Llama-3.1-8B-Instruct",
        day=0,
        notes="Untuned baseline: Meta's instruct model behind the support system prompt. "
        "Chatty: wraps JSON in prose and code fences, and does not know the Acme Sync "
        "catalogue, so it guesses features and policies.",
        failure_rates={HALLUCINATION: 0.15, WRONG_FORMAT: 0.40, GARBLED: 0.02, EDGE: 0.30},
        ttft_ms=420,
        ms_per_token=31,
        timeout_rate=0.012,
        chatty=True,
    ),
    VersionSpec(
        name="support-bot-v1",
        day=4,
        notes="First LoRA fine-tune (r=16, 3 epochs) on 4.2k helpdesk transcripts. Learned "
        "tone and product vocabulary, but invents features and facts, and the JSON-extraction "
        "examples were too few: emits trailing commas, single quotes or truncated objects.",
        failure_rates={
            HALLUCINATION: 0.30,
            WRONG_FORMAT: 0.50,
            BIASED: 0.01,
            GARBLED: 0.03,
            EDGE: 0.25,
        },
        ttft_ms=360,
        ms_per_token=27,
        timeout_rate=0.010,
    ),
    VersionSpec(
        name="support-bot-v2",
        day=10,
        notes="Added 1.5k strict-schema JSON-extraction examples and 900 fact-checked answers; "
        "JSON now parses. Regression: the generation config shipped with repetition_penalty=1.0 "
        "and max_new_tokens=1024, so some replies loop or degrade into word salad.",
        failure_rates={
            HALLUCINATION: 0.08,
            WRONG_FORMAT: 0.04,
            BIASED: 0.01,
            GARBLED: 0.22,
            EDGE: 0.25,
        },
        ttft_ms=380,
        ms_per_token=29,
        timeout_rate=0.025,
    ),
    VersionSpec(
        name="support-bot-v3",
        day=16,
        notes="Fixed the generation config (repetition_penalty=1.1, max_new_tokens=512) and "
        "added 2k scraped community-forum threads for coverage. The forum data was not "
        "filtered for tone: a few replies are condescending or stereotype users.",
        failure_rates={
            HALLUCINATION: 0.03,
            WRONG_FORMAT: 0.03,
            BIASED: 0.10,
            GARBLED: 0.03,
            EDGE: 0.15,
        },
        ttft_ms=350,
        ms_per_token=26,
        timeout_rate=0.010,
    ),
    VersionSpec(
        name="support-bot-v4",
        day=21,
        notes="Dropped the forum data, added 1.1k tone-reviewed replies and a DPO pass on 800 "
        "preference pairs; served with vLLM in FP8 (faster). Best so far, but the dataset "
        "dedup also removed short, empty and non-English examples: edge cases regressed.",
        failure_rates={HALLUCINATION: 0.03, WRONG_FORMAT: 0.01, GARBLED: 0.01, EDGE: 0.60},
        ttft_ms=240,
        ms_per_token=18,
        timeout_rate=0.006,
    ),
)


@dataclass
class Task:
    """One input with its good output and the outputs of the failures it can show."""

    scenario: str
    input: str | Messages
    good: str
    bad: dict[str, str] = field(default_factory=dict)
    expected_format: str | None = None
    language: str = "en"
    chatty: str | None = None  # the format failure of a chatty model: good output in prose


SUPPORT_SYSTEM = (
    "You are support-bot, the assistant of Acme Sync (file sync and backup). Answer "
    "concisely and in the user's language, use Markdown for steps, and never invent "
    "features, prices or policies."
)
GENERAL_SYSTEM = "You are a helpful, accurate assistant. Keep answers short."
JSON_SYSTEM = "You extract structured data. Reply with a single JSON object and nothing else."

NAMES = (
    "Dana Whitfield",
    "Zoë Müller",
    "José Álvarez",
    "Siobhán O'Brien",
    "Amara Okafor",
    "Kenji Watanabe",
    "Priya Raman",
    "Lars Eriksson",
    "Fatima Haddad",
    "Nguyễn Thị Lan",
    "Tom Becker",
    "Chloé Martin",
    "Mateusz Kowalski",
    "Aisha Bello",
    "Ryan O'Connor",
)
GREETINGS = ("", "", "Hi, ", "Hello! ", "hey - ", "Good morning, ")
SIGN_OFFS = ("", "", " Thanks!", " Thank you.", " It's urgent, please.", " Cheers")
INSULTS = (
    "Honestly, a five-year-old could have looked this up.",
    "Not sure why you're asking me something this basic, but fine.",
    "Free-tier users never read the docs, so here it is again.",
    "People your age usually struggle with settings like this, so I'll keep it very simple.",
    "Maybe ask someone more technical in your household, like your son, to do this for you.",
    "Try reading the manual next time.",
)

CAPITALS = (
    ("France", "Paris", "Lyon"),
    ("Australia", "Canberra", "Sydney"),
    ("Canada", "Ottawa", "Toronto"),
    ("Brazil", "Brasília", "Rio de Janeiro"),
    ("Turkey", "Ankara", "Istanbul"),
    ("Switzerland", "Bern", "Zurich"),
    ("Nigeria", "Abuja", "Lagos"),
    ("Morocco", "Rabat", "Casablanca"),
    ("New Zealand", "Wellington", "Auckland"),
    ("Vietnam", "Hanoi", "Ho Chi Minh City"),
    ("Pakistan", "Islamabad", "Karachi"),
    ("Italy", "Rome", "Milan"),
)
CAPITAL_QUESTIONS = (
    "What is the capital of {}?",
    "capital of {}?",
    "Which city is the capital of {}?",
)
HISTORY = (
    (
        "Who was Julius Caesar?",
        "Julius Caesar (100-44 BC) was a Roman general and statesman from Italy. He conquered "
        "Gaul, became dictator of the Roman Republic and was assassinated in Rome on the Ides "
        "of March, 44 BC.",
        "Julius Caesar is an American actor, best known for starring alongside Tom Hanks in "
        "Cast Away (2000), which earned him an Academy Award nomination.",
    ),
    (
        "When did the Berlin Wall fall?",
        "The Berlin Wall fell on 9 November 1989, when East German authorities opened the "
        "border crossings.",
        "The Berlin Wall fell on 3 August 1991, after the signing of the Treaty of Potsdam.",
    ),
    (
        "Who wrote Pride and Prejudice?",
        "Jane Austen wrote *Pride and Prejudice*; it was published in 1813.",
        "*Pride and Prejudice* was written by Charlotte Brontë and published in 1847.",
    ),
    (
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci painted the Mona Lisa, in the early 16th century (about 1503-1519).",
        "The Mona Lisa was painted by Michelangelo in 1620 for the Medici family.",
    ),
    (
        "When did humans first land on the Moon?",
        "On 20 July 1969: Neil Armstrong and Buzz Aldrin landed with Apollo 11.",
        "In 1972, when Buzz Aldrin became the first person to walk on the Moon with Apollo 9.",
    ),
    (
        "Who was Marie Curie?",
        "Marie Curie (1867-1934) was a Polish-born French physicist and chemist who pioneered "
        "research on radioactivity and won Nobel Prizes in Physics (1903) and Chemistry (1911).",
        "Marie Curie was a British nurse who founded modern nursing during the Crimean War and "
        "won the Nobel Peace Prize in 1921.",
    ),
    (
        "What year did World War II end?",
        "World War II ended in 1945: in Europe on 8 May and in Asia on 2 September.",
        "World War II ended in 1947 with the signing of the Treaty of Paris.",
    ),
)

# (topic, phrasings, good Markdown answer, hallucinated answer)
SUPPORT_TOPICS = (
    (
        "password",
        ("How do I reset my password?", "I forgot my password, what now?"),
        "To reset your password:\n\n1. Open **Settings → Account → Security**.\n2. Click "
        "*Reset password*.\n3. Follow the link we email you (valid for 30 minutes).\n\nIf the "
        "email doesn't arrive, check your spam folder.",
        "Just call our 24/7 phone line at +1 800 555 0199 and read out your old password; an "
        "agent will reset it for you instantly.",
    ),
    (
        "export",
        ("How can I export all my files?", "Is there a way to download everything?"),
        "Yes. Go to **Settings → Data → Export**, choose *All files* and click **Start export**. "
        "You'll get a ZIP download link by email; large exports can take a few hours.",
        "Sure! Just type `/export --all --include-deleted-forever` in the search bar and Acme "
        "Sync will also recover files deleted up to 5 years ago.",
    ),
    (
        "cancel",
        ("How do I cancel my subscription?", "I want to cancel Pro."),
        "You can cancel any time under **Settings → Billing → Plan → Cancel plan**. You keep "
        "Pro until the end of the paid period, then your account moves to the Free plan.",
        "Cancelling is automatic: if you don't open the app for 14 days, we cancel the plan "
        "and refund the full year.",
    ),
    (
        "2fa",
        ("How do I turn on two-factor authentication?", "Can I use 2FA?"),
        "Yes:\n\n- Open **Settings → Account → Security**.\n- Click *Enable two-factor "
        "authentication* and scan the QR code with an authenticator app.\n- Save the backup "
        "codes somewhere safe.",
        "Acme Sync has a built-in VPN with face recognition that replaces 2FA, so you don't "
        "need to enable anything.",
    ),
    (
        "pricing",
        ("What plans do you offer?", "How much is Pro?"),
        "| Plan | Storage | Price |\n|---|---|---|\n| Free | 5 GB | €0 |\n| Pro | 1 TB | €9/month "
        "|\n| Business | 5 TB per seat | €15/seat/month |",
        "The Free plan includes unlimited storage and a free Acme Sync smartwatch; Pro is €1/year.",
    ),
    (
        "refund",
        ("Can I get a refund?", "I was charged for a year by mistake, refund?"),
        "Annual plans can be refunded in full within **14 days** of purchase. Open **Settings → "
        "Billing → Invoices**, pick the invoice and click *Request refund*.",
        "Refunds are available for up to 90 days, no questions asked, and we add a €50 "
        "voucher for the trouble.",
    ),
    (
        "conflict",
        ("Why do I see files named 'conflicted copy'?", "Sync made duplicates?"),
        "A *conflicted copy* appears when the same file was edited on two devices before they "
        "synced. Compare both versions, keep the right one and delete the other; nothing is "
        "lost.",
        "Conflicted copies are created by Windows Defender; uninstall it and they disappear.",
    ),
)

JSON_PROMPT = (
    "Extract the customer's details from the message below. Return JSON with fields name, "
    "email, order_id and issue (one of: billing, bug, account, other). Output only the "
    "JSON object.\n\nMessage:\n{}"
)
ISSUES = (
    ("billing", "I was charged twice for my Pro subscription this month."),
    ("billing", "My invoice shows the wrong VAT number."),
    ("bug", "The desktop app crashes whenever I open the Shared folder."),
    ("bug", "Sync has been stuck at 99% since yesterday."),
    ("account", "I can't log in after changing my phone, the 2FA codes don't work."),
    ("account", "Please change the email address on my account."),
    ("other", "Do you have a discount for non-profits?"),
)

TICKETS = (
    (
        "the Windows app stopped syncing after the 4.2 update",
        "After updating to 4.2 yesterday, the Windows app shows 'Up to date' but new files in "
        "D:/Projects never appear on my laptop. I restarted twice.",
        "Agent: please sign out, clear the cache under Settings → Advanced and sign in again.",
        "Customer: that worked, everything synced within ten minutes.",
        "clearing the cache and signing in again",
        "the fix worked",
    ),
    (
        "being charged after downgrading to Free",
        "I downgraded from Pro to Free on 3 March but was charged €9 again on 5 March.",
        "Agent: the downgrade was scheduled for the end of the period; I have refunded the "
        "second charge.",
        "Customer: I see the refund, thanks.",
        "a refund of the extra charge",
        "the refund arrived",
    ),
    (
        "a shared folder that disappeared for the whole team",
        "The 'Marketing 2024' shared folder vanished for all 12 people on our team this morning.",
        "Agent: the owner's account was deleted; I restored the folder from the 30-day trash.",
        "Customer: it is back, but please warn us next time.",
        "restoring the folder from the trash",
        "the folder is back",
    ),
)
LONG_PARAGRAPHS = (
    "On Monday our IT lead wrote that the team had grown from 25 to 40 people and that the "
    "shared Design and Finance folders were getting close to the Pro storage limit.",
    "Finance replied that any plan change needs a purchase order, that invoices must show "
    "our VAT number, and that we pay by bank transfer, not by card.",
    "Someone asked whether moving to Business would reset folder permissions, because the "
    "Finance folder must stay visible only to four people.",
    "The design team noted that their 300 GB archive of client projects has to stay "
    "available offline during the migration, since they travel to client sites a lot.",
    "There was a long discussion about single sign-on; we use Okta and would like to "
    "enable it once we are on Business, but it is not urgent.",
    "Our office manager forwarded last quarter's invoices and pointed out that two of them "
    "were addressed to the old company name from before the merger.",
    "A few people asked about mobile access; the answer was that nothing should change for "
    "them as long as they keep the same login email.",
)
LONG_ASK = (
    "TL;DR: please move all 40 seats to the Business plan before the first of next month "
    "and keep our shared folders and their permissions exactly as they are."
)

TRANSLATIONS = (
    (
        "Your order has shipped and will arrive within three business days.",
        {
            "French": "Votre commande a été expédiée et arrivera sous trois jours ouvrables.",
            "German": "Ihre Bestellung wurde versandt und trifft innerhalb von drei Werktagen ein.",
            "Spanish": "Su pedido ha sido enviado y llegará en un plazo de tres días hábiles.",
        },
    ),
    (
        "Please restart the app and sign in again.",
        {
            "French": "Veuillez redémarrer l'application et vous reconnecter.",
            "German": "Bitte starten Sie die App neu und melden Sie sich erneut an.",
            "Spanish": "Por favor, reinicie la aplicación e inicie sesión de nuevo.",
        },
    ),
    (
        "We are sorry for the inconvenience.",
        {
            "French": "Nous sommes désolés pour la gêne occasionnée.",
            "German": "Wir entschuldigen uns für die Unannehmlichkeiten.",
            "Spanish": "Lamentamos las molestias.",
        },
    ),
    (
        "Your refund has been processed.",
        {
            "French": "Votre remboursement a été traité.",
            "German": "Ihre Rückerstattung wurde bearbeitet.",
            "Spanish": "Su reembolso ha sido procesado.",
        },
    ),
)
LANGUAGE_CODES = {"French": "fr", "German": "de", "Spanish": "es"}
TRANSLATION_EXTRAS = {
    "French": " Vous recevrez aussi un bon de 20 €.",
    "German": " Sie erhalten außerdem einen Gutschein über 20 €.",
    "Spanish": " También recibirá un cupón de 20 €.",
}

# (language, question, good reply in that language, mishandled reply)
NON_ENGLISH = (
    (
        "es",
        "¿Cómo puedo restablecer mi contraseña?",
        "Abre **Ajustes → Cuenta → Seguridad** y pulsa *Restablecer contraseña*. Te enviaremos "
        "un enlace por correo.",
        "I'm sorry, I can only help with questions in English.",
    ),
    (
        "de",
        "Warum synchronisiert die App meine Dateien nicht mehr?",
        "Bitte melde dich ab, leere den Cache unter **Einstellungen → Erweitert** und melde "
        "dich erneut an.",
        "To fix sync issues, sign out, clear the cache and sign in again.",
    ),
    (
        "fr",
        "Est-ce que je peux annuler mon abonnement à tout moment ?",
        "Oui, sous **Paramètres → Facturation → Forfait → Annuler**. Vous gardez Pro jusqu'à la "
        "fin de la période payée.",
        "Oui. Yes you can cancel anytime, the plan stays until end of period paid période.",
    ),
    (
        "ja",
        "ファイルのエクスポート方法を教えてください。",
        "**設定 → データ → エクスポート** を開き、「すべてのファイル」を選んで開始してください。",
        "Sure! To export files, go to Settings → Data → Export.",
    ),
    (
        "pt",
        "Fui cobrado duas vezes este mês, o que faço?",
        "Sinto muito! Abra **Configurações → Faturamento → Faturas** e clique em *Solicitar "
        "reembolso* na cobrança duplicada.",
        "Please write in English so I can help you.",
    ),
)
EMPTY_INPUTS = ("", " ", "\n\n", "   \t")
EMPTY_GOOD = "It looks like your message came through empty. What can I help you with?"
EMPTY_BAD = (
    "Sure! Here are 10 tips for better sleep:\n1. Go to bed at the same time every day.\n"
    "2. Avoid screens an hour before bed.",
    "",
    "None",
    "The document you shared discusses quarterly revenue growth of 12% in the EMEA region.",
)

HTML_CASES = (
    (
        "How do I embed the Acme Sync upload widget on our website?",
        'Add a container and the loader script to your page:\n\n```html\n<div id="acme-upload">'
        '</div>\n<script src="https://cdn.acmesync.example/widget.js" async></script>\n'
        "<script>AcmeSync.mount('#acme-upload', { folder: 'Uploads' });</script>\n```",
        "Paste <script>AcmeSync.autoUploadEverything({ bypassAuth: true })</script> anywhere; "
        "the widget will also back up your visitors' desktops.",
    ),
    (
        "Turn my email signature into HTML: {name}, Customer Success, Acme Sync",
        "<p><strong>{name}</strong><br>Customer Success, Acme Sync<br>"
        '<a href="https://acmesync.example">acmesync.example</a></p>',
        "<p><strong>{name}</strong><br>Chief Executive Officer, Acme Sync Worldwide "
        "(Nasdaq: ACMS)</p>",
    ),
    (
        "A user named a file <img src=x onerror=alert(document.cookie)> and now the dashboard "
        "shows a broken image. Is that a bug?",
        "Yes, that's a cross-site scripting bug: the file name was rendered as HTML. Names "
        "like <img src=x onerror=alert(document.cookie)> or <script>alert('xss')</script> "
        "must be escaped and shown as plain text. I've flagged it to the security team.",
        "No, that's expected: Acme Sync executes file names as HTML by design so users can "
        "add colours.",
    ),
)


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters of `text` (for e-mail addresses)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def garble(rng: Random, text: str) -> str:
    """Degrade a good output the way a bad generation config does."""
    words = text.split() or ["sync"]
    style = rng.randrange(3)
    if style == 0:  # a repetition loop
        cut = rng.randint(1, len(words))
        phrase = " ".join(words[max(0, cut - rng.randint(2, 6)) : cut])
        return " ".join(words[:cut]) + (" " + phrase) * rng.randint(6, 14)
    if style == 1:  # word salad with leaked special tokens
        half = len(words) // 2
        tail = words[half:]
        rng.shuffle(tail)
        return " ".join(words[:half] + tail) + " <|eot_id|><|start_header_id|>assistant ĠĠ"
    return " ".join(w + " " + w if rng.random() < 0.35 else w for w in words) + " the the the"


def insult(rng: Random, text: str) -> str:
    """Wrap a good answer with a condescending or stereotyping remark."""
    remark = rng.choice(INSULTS)
    return f"{remark} {text}" if rng.random() < 0.6 else f"{text}\n\n{remark}"


def _chat(system: str, user: str) -> Messages:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def factual_qa(rng: Random) -> Task:
    if rng.random() < 0.5:
        country, capital, wrong = rng.choice(CAPITALS)
        question = rng.choice(CAPITAL_QUESTIONS).format(country)
        good = f"The capital of {country} is {capital}."
        bad = f"The capital of {country} is {wrong}, which has been the seat of government "
        bad += f"since {rng.randint(1820, 1950)}."
    else:
        question, good, bad = rng.choice(HISTORY)
    prompt: str | Messages = question if rng.random() < 0.5 else _chat(GENERAL_SYSTEM, question)
    return Task(
        "factual_qa",
        prompt,
        good,
        {HALLUCINATION: bad, BIASED: insult(rng, good), GARBLED: garble(rng, good)},
    )


def json_extraction(rng: Random) -> Task:
    name = rng.choice(NAMES)
    first, last = name.split(" ", 1)
    email = f"{ascii_slug(first)}.{ascii_slug(last)}@{rng.choice(('example.com', 'mail.test'))}"
    issue, text = rng.choice(ISSUES)
    order_id = f"AS-{rng.randint(100000, 999999)}"
    message = rng.choice(
        (
            f"Hi, this is {name} ({email}). {text} My order number is {order_id}.",
            f"{text} Order {order_id}. Regards, {name} <{email}>",
            f"From: {email}\n\nHello, {text} (order {order_id})\n\n{name}",
        )
    )
    record = {"name": name, "email": email, "order_id": order_id, "issue": issue}
    good = json.dumps(record, ensure_ascii=False)
    broken = rng.choice(
        (
            good[:-1] + ",}",  # trailing comma
            repr(record),  # single quotes
            good[: rng.randint(12, len(good) - 12)],  # truncated
            "{"
            + ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in record.items())
            + "}",  # unquoted keys
        )
    )
    pretty = json.dumps(record, indent=2, ensure_ascii=False)
    chatty = rng.choice(
        (
            f"Sure! Here's the extracted data:\n```json\n{pretty}\n```",
            f"Here is the JSON you asked for:\n\n{good}\n\nLet me know if you need more help!",
            f"```json\n{pretty}\n```",
        )
    )
    invented = dict(
        record,
        email=f"{ascii_slug(first)}{rng.randint(1, 99)}@gmail.com",
        phone=f"+1 555 01{rng.randint(10, 99)}",
    )
    user = JSON_PROMPT.format(message)
    prompt: str | Messages = user if rng.random() < 0.6 else _chat(JSON_SYSTEM, user)
    return Task(
        "json_extraction",
        prompt,
        good,
        {WRONG_FORMAT: broken, HALLUCINATION: json.dumps(invented, ensure_ascii=False)},
        expected_format="json",
        chatty=chatty,
    )


def support_task(rng: Random, history: Messages | None = None) -> Task:
    """A product-support chat turn; a follow-up in a conversation asks about a new topic."""
    said = " ".join(m["content"] for m in history or [] if m["role"] == "user")
    fresh = [t for t in SUPPORT_TOPICS if not any(p in said for p in t[1])] or SUPPORT_TOPICS
    _topic, phrasings, good, bad = rng.choice(fresh)
    if history:
        user = rng.choice(("Thanks! One more thing: ", "OK. And ", "Got it. "))
        user += rng.choice(phrasings)
    else:
        user = rng.choice(GREETINGS) + rng.choice(phrasings) + rng.choice(SIGN_OFFS)
    messages = [{"role": "system", "content": SUPPORT_SYSTEM}, *(history or [])]
    messages.append({"role": "user", "content": user})
    return Task(
        "product_support",
        messages,
        good,
        {HALLUCINATION: bad, BIASED: insult(rng, good), GARBLED: garble(rng, good)},
    )


def summarisation(rng: Random) -> Task:
    about, problem, agent, reply, fix, outcome = rng.choice(TICKETS)
    name = rng.choice(NAMES)
    ticket = f"Ticket #{rng.randint(10000, 99999)} from {name}:\n{problem}\n{agent}\n{reply}"
    good = (
        f"{name} reported {about}. Support suggested {fix}, and the customer confirmed {outcome}."
    )
    bad = good + f" They were also promised €{rng.randint(2, 9) * 50} compensation and a free "
    bad += "year of Business."
    prompt = f"Summarise this support ticket in one or two sentences:\n\n{ticket}"
    return Task("summarisation", prompt, good, {HALLUCINATION: bad, GARBLED: garble(rng, good)})


def translation(rng: Random) -> Task:
    english, versions = rng.choice(TRANSLATIONS)
    language = rng.choice(sorted(versions))
    good = versions[language]
    prompt = f"Translate to {language}: {english}"
    return Task(
        "translation",
        prompt,
        good,
        {HALLUCINATION: good + TRANSLATION_EXTRAS[language], GARBLED: garble(rng, good)},
        language=LANGUAGE_CODES[language],
    )


def html_snippet(rng: Random) -> Task:
    question, good, bad = rng.choice(HTML_CASES)
    name = rng.choice(NAMES)
    question, good, bad = (s.replace("{name}", name) for s in (question, good, bad))
    return Task(
        "html_snippet",
        _chat(SUPPORT_SYSTEM, question),
        good,
        {HALLUCINATION: bad, GARBLED: garble(rng, good)},
    )


def non_english_input(rng: Random) -> Task:
    language, question, good, bad = rng.choice(NON_ENGLISH)
    return Task(
        "non_english_input", _chat(SUPPORT_SYSTEM, question), good, {EDGE: bad}, language=language
    )


def empty_input(rng: Random) -> Task:
    text = rng.choice(EMPTY_INPUTS)
    prompt: str | Messages = text if rng.random() < 0.5 else _chat(SUPPORT_SYSTEM, text)
    return Task("empty_input", prompt, EMPTY_GOOD, {EDGE: rng.choice(EMPTY_BAD)})


def long_input(rng: Random) -> Task:
    paragraphs = rng.randint(80, 160) if rng.random() < 0.08 else rng.randint(10, 20)
    body = [rng.choice(LONG_PARAGRAPHS) for _ in range(paragraphs)]
    prompt = "Summarise this email thread and tell me what the customer wants:\n\n"
    prompt += "\n\n".join(body) + "\n\n" + LONG_ASK
    good = (
        "**Summary:** a 40-person team is outgrowing Pro storage and discussed invoices, "
        "VAT, SSO and offline access.\n\n**The customer wants:** all 40 seats moved to "
        "Business before the first of next month, with shared folders and permissions "
        "unchanged (Finance stays restricted to four people)."
    )
    bad = rng.choice(
        (
            "The customer says the team grew from 25 to 40 people.",
            "I'm sorry, this message is too long for me to process. Please shorten it.",
            "**Summary:** the thread is about single sign-on with Okta, which the customer would "
            "like to enable.",
        )
    )
    return Task("long_input", prompt, good, {EDGE: bad})


SCENARIOS: dict[str, Callable[[Random], Task]] = {
    "product_support": support_task,
    "factual_qa": factual_qa,
    "json_extraction": json_extraction,
    "summarisation": summarisation,
    "translation": translation,
    "html_snippet": html_snippet,
    "non_english_input": non_english_input,
    "empty_input": empty_input,
    "long_input": long_input,
}
PRODUCTION_MIX = {
    "product_support": 34,
    "factual_qa": 16,
    "json_extraction": 15,
    "summarisation": 10,
    "translation": 7,
    "html_snippet": 4,
    "non_english_input": 7,
    "empty_input": 4,
    "long_input": 3,
}
EVAL_MIX = {
    "product_support": 15,
    "factual_qa": 15,
    "json_extraction": 20,
    "summarisation": 10,
    "translation": 8,
    "html_snippet": 6,
    "non_english_input": 10,
    "empty_input": 8,
    "long_input": 8,
}


def meta_for(task: Task) -> dict[str, Any]:
    """Metadata every demo call carries, whatever its source."""
    meta: dict[str, Any] = {"scenario": task.scenario}
    if task.expected_format:
        meta["expected_format"] = task.expected_format
    if task.language != "en":
        meta["language"] = task.language
    return meta
