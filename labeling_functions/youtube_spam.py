"""LFs for YouTube comment spam (UCI YouTube Spam Collection), written as a new user would.

The data is not bundled; `docs/youtube_spam.md` shows how to run these on it. Classes: ham, spam.
Modelled on the snorkel spam tutorial's rules, in labelkit's declarative style.
"""
import re

from labelkit import ABSTAIN, keywords, labeling_function, regex, slicing_function, spacy_patterns

check_out = regex("spam", r"check\s*(?:it\s*)?out", name="check_out")
my_channel = keywords("spam", ["my channel", "my page", "my videos", "my video"], name="my_channel")
subscribe = keywords("spam", ["subscribe", "sub", "subs", "subscribers"], name="subscribe")
links = regex("spam", r"https?://|www\.|\.com\b", name="links")
please = keywords("spam", ["please", "plz", "pls"], name="please")
money = keywords("spam", ["money", "earn", "cash", "free", "gift card", "paypal"], name="money")
song_talk = keywords("ham", ["song", "love this", "best song", "beautiful", "amazing", "voice"], name="song_talk")
views = regex("ham", r"\b\d+\s*(?:m|mil|million|billion|b)\s*views\b|\bbillion\b", name="views")
follow_me = spacy_patterns("spam", [[{"LOWER": {"IN": ["follow", "add"]}}, {"LOWER": "me"}]], name="follow_me")


@labeling_function()
def short_comment(row):
    """Very short comments ('lol', 'nice song') are rarely spam."""
    return "ham" if len(row.CONTENT.split()) < 5 else ABSTAIN


@labeling_function()
def shouting(row):
    """Long all-caps comments are usually ads."""
    letters = re.sub(r"[^A-Za-z]", "", row.CONTENT)
    return "spam" if len(letters) > 30 and letters.isupper() else ABSTAIN


@slicing_function()
def has_link(row):
    return bool(re.search(r"https?://|www\.", row.CONTENT))
