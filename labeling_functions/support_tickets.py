"""Labeling functions for the bundled support_tickets example (datasets/support_tickets/).

Queues: billing, connectivity, account, cancellation, other. These are the rules a support lead
would write in an afternoon: mostly English keywords and regexes, a few Python rules for the
tricky cases, two spaCy pattern rules, one column rule, and French keywords for the new FR market.
They are deliberately imperfect (some are noisy, some conflict, `other` is barely covered),
which is what the label model, the end model and the report are there to show.
"""
import re

from labelkit import ABSTAIN, column_condition, keywords, labeling_function, regex, spacy_lf, spacy_patterns

# --- billing -------------------------------------------------------------------------------------
kw_billing = keywords(
    "billing", ["refund", "invoice", "overcharged", "charged twice", "double charged", "bill"], name="kw_billing"
)
kw_payment = keywords("billing", ["payment", "direct debit", "late fee"], name="kw_payment")
re_money_amount = regex("billing", r"(?:[$£€]|\bRs\.? ?)\s?\d", name="re_money_amount")  # noisy: fees, prices

_CANCEL_A_CHARGE = re.compile(r"\bcancel\w*\s+(?:the|this|that|a)?\s*(?:\w+\s+)?(?:charge|payment|fee|debit)", re.I)


@labeling_function()
def cancel_a_charge_is_billing(row):
    """'Please cancel the duplicate payment' is a billing request, not a cancellation."""
    return "billing" if _CANCEL_A_CHARGE.search(row.text) else ABSTAIN


# --- connectivity --------------------------------------------------------------------------------
kw_connectivity = keywords(
    "connectivity", ["internet", "wifi", "wi-fi", "no signal", "outage", "router"], name="kw_connectivity"
)
re_lost_service = regex(
    "connectivity", r"\b(?:no|lost|losing|lose|dropped|dropping)\s+(?:signal|internet|service|connection|calls?)\b",
    name="re_lost_service",
)
kw_slow = keywords("connectivity", ["slow", "buffering", "speed", "speeds", "keeps dropping"], name="kw_slow")


@labeling_function()
def router_lights(row):
    """Blinking/flashing/red lights on a box are a line fault."""
    text = row.text.lower()
    has_light = re.search(r"\b(flashing|blinking|red light|orange light|red status)\b", text)
    return "connectivity" if has_light else ABSTAIN


# --- account -------------------------------------------------------------------------------------
kw_login = keywords(
    "account", ["password", "login", "log in", "locked out", "username", "verification code", "reset link"],
    name="kw_login",
)
kw_account_word = keywords("account", ["account"], name="kw_account_word")  # noisy: "charged my account"
re_update_details = regex(
    "account", r"\b(?:change|update|correct)\s+(?:my\s+|the\s+)?(?:email|e-mail|address|name|phone number|contact details)\b",
    name="re_update_details",
)

# --- cancellation --------------------------------------------------------------------------------
kw_cancel = keywords("cancellation", ["cancel", "cancellation", "terminate"], name="kw_cancel")
sp_cancel_contract = spacy_patterns(
    "cancellation",
    [[{"LOWER": {"IN": ["cancel", "end", "terminate", "stop"]}},
      {"LOWER": {"IN": ["my", "the", "our", "this"]}, "OP": "?"},
      {"LOWER": {"IN": ["plan", "contract", "subscription", "service", "package", "line"]}}]],
    name="sp_cancel_contract",
)
sp_leaving = spacy_patterns(
    "cancellation",
    phrases=["switch to another provider", "switching to another provider", "close my account", "pac code",
             "porting to", "leaving for", "moving to"],  # noisy: "moving to a new address"
    name="sp_leaving",
)
tv_by_phone = column_condition("cancellation", "channel == 'phone' and product == 'tv'", name="tv_by_phone")

# --- other ---------------------------------------------------------------------------------------
_STORE_OR_FEEDBACK = re.compile(r"\b(store|shop|opening hours|feedback|suggestion|compliment|privacy policy)\b", re.I)


@labeling_function()
def store_or_feedback(row):
    return "other" if _STORE_OR_FEEDBACK.search(row.text) else ABSTAIN


kw_praise = keywords("other", ["great service", "brilliant", "well done", "keep up the good work"], name="kw_praise")


@spacy_lf()
def short_thanks(doc):
    """A very short message that is mostly a thank-you."""
    thanks = {"thanks", "thank", "thx", "cheers", "ty"}
    return "other" if len(doc) <= 6 and any(t.lower_ in thanks for t in doc) else ABSTAIN


# --- French market (FR, launched 2024) -----------------------------------------------------------
fr_billing = keywords(
    "billing", ["facture", "remboursement", "rembourser", "prélevé", "prélevés", "prélèvement", "débité"], name="fr_billing"
)
fr_connectivity = keywords(
    "connectivity", ["connexion", "réseau", "coupure", "panne", "débit", "appels"], name="fr_connectivity"
)
fr_account = keywords(
    "account", ["mot de passe", "identifiant", "me connecter", "adresse e-mail", "titulaire", "espace client"],
    name="fr_account",
)
fr_cancellation = keywords(
    "cancellation", ["résilier", "résiliation", "mettre fin", "arrêtez tout", "autre opérateur"], name="fr_cancellation"
)


# --- slices the report scores separately, and QA traffic the audit should drop ------------------
from labelkit import slicing_function, test_row_detector  # noqa: E402

_NON_ENGLISH = re.compile(r"\b(?:ich|meine?|nicht|bitte|hola|factura|gracias|bonjour|merci|je|mon|ma)\b", re.I)


@slicing_function()
def non_english(row):
    """Tickets written in German, Spanish or French."""
    return bool(_NON_ENGLISH.search(row.text))


@slicing_function()
def long_ticket(row):
    return len(row.text) > 250


@test_row_detector("load_test_account")
def load_test_account(frame):
    """Our load-test bot files tickets under customer ids starting with qa_."""
    return frame["customer_id"].astype(str).str.startswith("qa_")
