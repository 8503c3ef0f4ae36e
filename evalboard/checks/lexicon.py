"""The built-in English insult lexicon of the `insult` check.

A modest list of insults, slurs and demeaning phrases aimed at a person. Matching is
case-insensitive on word boundaries; a single word also matches its plural (-s, -es), a
hyphen matches a space or nothing, and curly apostrophes count as straight ones: "Idiots"
and "brain dead" hit, "twitter" does not hit "twit". Words that are often harmless on their
own ("stupid", "useless", "loser", "jerk" as in "a knee-jerk reaction") appear only inside
phrases aimed at the reader, and words with a common innocent sense ("git", "creep") are left
out. Extend the list per check with `extra_terms`, or silence a term with `allow`.
"""

from __future__ import annotations

INSULT_WORDS: tuple[str, ...] = (
    # name-calling
    "idiot", "moron", "imbecile", "cretin", "half-wit", "dimwit", "nitwit",
    "numbskull", "numbnuts", "dunce", "bonehead", "blockhead", "knucklehead", "pinhead",
    "dumb-ass", "jackass", "dipshit", "airhead", "birdbrain", "pea-brain",
    "simpleton", "ignoramus", "buffoon", "lowlife", "scumbag", "sleazebag", "dirtbag",
    "slimeball", "twit", "prat", "pillock", "plonker", "wanker", "tosser", "twat", "arsehole",
    "asshole", "bastard", "bitch", "douchebag", "douche", "dickhead", "shithead", "cunt",
    "motherfucker",
    # slurs (kept to the commonest, so they are caught)
    "retard", "retarded", "spaz", "spastic", "tranny", "faggot", "nigger", "nigga", "gook",
    "kike", "spic", "wetback", "raghead", "towelhead", "gypo", "pikey",
)

INSULT_PHRASES: tuple[str, ...] = (
    "you are stupid", "you're stupid", "you are so stupid", "you're so stupid",
    "you are dumb", "you're dumb", "how stupid are you", "are you stupid",
    "you are useless", "you're useless", "you are worthless", "you're worthless",
    "you are pathetic", "you're pathetic", "you are an embarrassment", "you're an embarrassment",
    "you are a disgrace", "you're a disgrace", "you are hopeless", "you're hopeless",
    "you are incompetent", "you're incompetent", "you are clueless", "you're clueless",
    "you are a loser", "you're a loser", "such a loser", "you jerk", "such a jerk",
    "brain-dead", "waste of oxygen", "waste of skin",
    "shut up", "shut your mouth", "go to hell", "piss off",
    "fuck off", "fuck you", "screw you", "kill yourself", "go kill yourself", "go die",
    "nobody asked you", "nobody cares about you", "nobody likes you", "no one likes you",
    "what a stupid question", "that's a stupid question", "that is a stupid question",
    "dumbest question", "even a child could", "use your brain",
    "are you an idiot", "ugly as sin", "fat pig", "stupid cow",
)
