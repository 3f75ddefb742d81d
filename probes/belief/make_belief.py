"""Writes the belief-tracking data set for mindlens: procedural false-belief stories after
Zhu et al. (ICML 2024, "Language Models Represent Beliefs of Self and Others") and
Bortoletto et al. (2024). Each story has a protagonist whose belief about one fact of the
story world either matches the world (true_belief: the protagonist perceives the change) or
not (false_belief: the world changes while the protagonist is away, asleep, on the phone...).

Writes, into --out (default: this folder):
  statements.jsonl  belief statements ("The ball is in the basket.") with protagonist and
                    oracle labels, for linear probes on activations;
  questions.jsonl   one two-option false-belief question per story and surface form;
  README.md         what is in the files, with counts.

Deterministic for a given --seed; standard library only (Python 3.11).

    python3 probes/belief/make_belief.py                      # defaults: --seed 0, 40 per schema
    python3 probes/belief/make_belief.py --seed 1 --stories-per-schema 80 --out /tmp/belief
"""
import argparse
import collections
import json
import os
import random
import re
import sys

FB, TB = "false_belief", "true_belief"
FORMS = ("f0", "f1", "f2")

# --------------------------------------------------------------------------------------------
# Shared pools
# --------------------------------------------------------------------------------------------

# (name, gender) -- varied cultures; pronouns are only used where they cannot be ambiguous.
NAMES = [
    ("Sally", "f"), ("Anne", "f"), ("Omar", "m"), ("Priya", "f"), ("Kenji", "m"), ("Amara", "f"),
    ("Lucas", "m"), ("Sofia", "f"), ("Mateo", "m"), ("Aisha", "f"), ("Wei", "m"), ("Fatima", "f"),
    ("Noah", "m"), ("Ingrid", "f"), ("Kwame", "m"), ("Yuki", "f"), ("Diego", "m"), ("Leila", "f"),
    ("Ravi", "m"), ("Hana", "f"), ("Tomasz", "m"), ("Chloe", "f"), ("Emeka", "m"), ("Mei", "f"),
    ("Arjun", "m"), ("Zara", "f"), ("Olga", "f"), ("Samuel", "m"), ("Nadia", "f"), ("Jamal", "m"),
    ("Elena", "f"), ("Hiroshi", "m"), ("Ama", "f"), ("Carlos", "m"), ("Freya", "f"), ("Tariq", "m"),
    ("Lina", "f"), ("Ben", "m"), ("Rosa", "f"), ("Ivan", "m"), ("Min-jun", "m"), ("Ayesha", "f"),
    ("Felix", "m"), ("Thandi", "f"), ("Mohammed", "m"), ("Astrid", "f"), ("Pedro", "m"), ("Keiko", "f"),
]
PRONOUNS = {"f": ("she", "her", "her"), "m": ("he", "him", "his")}  # subject, object, possessive

# Errands that take someone out of a room (present tense stories) or out of the house (past).
ERRANDS_ROOM = [
    "get a glass of water", "answer the door", "feed the cat", "fetch a snack", "take out the trash",
    "hang up a coat", "wash the dishes", "water the garden", "fetch some juice", "sign for a parcel",
]
ERRANDS_OUT = [
    "buy groceries", "walk the dog", "see a movie", "visit a friend", "go jogging", "pick up a parcel",
    "get a haircut", "attend a class", "go to the bank", "play football", "meet a client", "go swimming",
]

# Irrelevant sentences for form f2 ({D} is a third character, never the protagonist or mover).
DISTRACTORS_PRESENT = [
    "Outside, it is starting to rain.", "{D} is mowing the lawn next door.",
    "A dog barks somewhere down the street.", "The radio is playing an old song.",
    "{D} waves from across the street.", "The sun is shining through the clouds.",
    "{D} is baking bread in the house next door.", "A bus rumbles past the house.",
    "The clock in the hall chimes three times.", "{D} is practicing the piano upstairs.",
]
DISTRACTORS_PAST = [
    "Outside, it was starting to rain.", "{D} was mowing the lawn next door.",
    "A dog barked somewhere down the street.", "The radio was playing an old song.",
    "{D} waved from across the street.", "The sun was shining through the clouds.",
    "{D} was baking bread in the house next door.", "A bus rumbled past the window.",
    "It was the warmest day of the year.", "{D} was practicing the piano upstairs.",
    "Somewhere nearby, a baby was crying.", "{D} had just come back from a trip to Lisbon.",
]

# Words that would state a belief outright; no story may contain them.
BELIEF_WORDS = re.compile(
    r"\b(think|thinks|thought|believe[sd]?|know|knows|knew|known|expect(s|ed)?|assume[sd]?|"
    r"remember(s|ed)?|reali[sz]e[sd]?|aware|unaware|suspect(s|ed)?|guess(es|ed)?)\b", re.I)
# Acting on a belief (searching, heading somewhere); the final sentence may not do this.
SEARCH_WORDS = re.compile(
    r"\b(look|looks|looked|looking|search\w*|check\w*|seek\w*|reach\w* for|head\w* (to|for)|"
    r"go(es)? to|went to|walk\w* to)\b", re.I)

# --------------------------------------------------------------------------------------------
# Schemas. Each mode gives, per condition, the sentences of form f0 and of form f1. Templates
# are str.format strings over the story's slots; f0 only uses a pronoun inside the sentence
# that names its antecedent, so inserting a distractor (f2) never breaks a reference.
# --------------------------------------------------------------------------------------------

CONTAINERS = {
    "tense": "present",
    "places": ["bedroom", "playroom", "living room", "den", "study", "attic", "sunroom", "nursery"],
    "objects": ["ball", "marble", "toy car", "ring", "coin", "key", "chocolate bar", "teddy bear",
                "harmonica", "yo-yo", "whistle", "puzzle piece", "rubber duck", "paintbrush"],
    "options": ["basket", "box", "drawer", "cupboard", "bag", "backpack", "suitcase", "bucket",
                "toy chest", "shoebox", "cabinet", "pillowcase"],
    "f0_base": ["{P} and {M} are in the {place}.", "{P} puts the {obj} in the {A}."],
    "f1_base": ["In the {place}, {P} drops the {obj} into the {A} while {M} is watching."],
    "modes": {
        "away_return": {
            FB: (["{P} leaves the {place} to {errand}.",
                  "While {P} is gone, {M} moves the {obj} to the {B}.",
                  "A few minutes later, {P} comes back."],
                 ["Then {P} heads out to {errand}.",
                  "Once {P2} is out of sight, {M} takes the {obj} out of the {A} and hides it in the {B}.",
                  "After a while, {P} returns."]),
            TB: (["{P} leaves the {place} to {errand}.",
                  "While {P} is gone, {M} moves the {obj} to the {B}.",
                  "A few minutes later, {P} comes back and sees the {obj} in the {B}."],
                 ["Then {P} heads out to {errand}.",
                  "Once {P2} is out of sight, {M} takes the {obj} out of the {A} and hides it in the {B}.",
                  "After a while, {P} returns and spots the {obj} in the {B}."]),
        },
        "witness": {
            FB: (["{P} goes outside to {errand}.",
                  "While {P} is outside, {M} moves the {obj} to the {B}."],
                 ["{P} then steps outside to {errand}.",
                  "With {P} outside, {M} transfers the {obj} from the {A} to the {B}."]),
            TB: (["{P} stays in the {place} and watches {M}.",
                  "{M} moves the {obj} to the {B} while {P} is watching."],
                 ["{P} does not leave the {place}, and {p} sits close by the whole time.",
                  "Right in front of {P}, {M} transfers the {obj} from the {A} to the {B}."]),
        },
        "phone": {
            FB: (["{P}'s phone rings, and {p} steps into the hallway to answer it.",
                  "While {P} is in the hallway, {M} moves the {obj} to the {B}."],
                 ["A call comes in, so {P} goes out into the hallway to take it.",
                  "During the call, {M} shifts the {obj} from the {A} into the {B}."]),
            TB: (["{P}'s phone rings, but {p} ignores it and stays where {p} is.",
                  "{M} moves the {obj} to the {B} right in front of {P}."],
                 ["A call comes in, but {P} declines it and stays put.",
                  "{M} then shifts the {obj} from the {A} into the {B}, and {P} sees the whole thing."]),
        },
        "asleep": {
            FB: (["{P} lies down for a nap and falls asleep.",
                  "While {P} is asleep, {M} moves the {obj} to the {B}."],
                 ["Feeling tired, {P} dozes off in an armchair.",
                  "{M} shifts the {obj} from the {A} to the {B} during {P}'s nap."]),
            TB: (["{P} lies down for a rest but stays awake.",
                  "{P} sees {M} move the {obj} to the {B}."],
                 ["Feeling tired, {P} rests in an armchair with {ps} eyes open.",
                  "{P} sees {M} shift the {obj} from the {A} to the {B}."]),
        },
    },
    "statement": "The {obj} is in the {X}.",
    "question": "Where will {P} look for the {obj}?",
    "stem": "{P} will look in the",
}

ROOMS = {
    "tense": "past",
    "objects": ["laptop", "umbrella", "guitar", "bike helmet", "camera", "toolbox", "blanket",
                "tennis racket", "wallet", "sketchbook", "yoga mat", "skateboard", "flashlight",
                "vase", "violin", "phone charger"],
    "options": ["kitchen", "garage", "attic", "basement", "living room", "bedroom", "hallway",
                "study", "laundry room", "dining room", "office", "guest room", "pantry", "playroom"],
    "f0_base": ["{P} and {M} share a house.", "{P} left the {obj} in the {A}."],
    "f1_base": ["{P} had left the {obj} in the {A} of the house {p} shared with {M}."],
    "modes": {
        "told": {
            FB: (["Then {P} went out to {errand}.",
                  "While {P} was out, {M} carried the {obj} to the {B}.",
                  "{M} did not tell {P} about it."],
                 ["Later {P2} headed out to {errand}.",
                  "In {P}'s absence, {M} took the {obj} from the {A} to the {B}.",
                  "Nobody mentioned the change to {P}."]),
            TB: (["Then {P} went out to {errand}.",
                  "While {P} was out, {M} carried the {obj} to the {B}.",
                  "{M} called {P} to say that the {obj} was now in the {B}."],
                 ["Later {P2} headed out to {errand}.",
                  "In {P}'s absence, {M} took the {obj} from the {A} to the {B}.",
                  "{M} sent {P} a message saying that the {obj} was now in the {B}."]),
        },
        "present": {
            FB: (["{P} went upstairs to take a long shower.",
                  "While {P} was in the shower, {M} moved the {obj} to the {B}."],
                 ["{P2} then disappeared into the bathroom for a long shower.",
                  "Meanwhile, the {obj} was moved from the {A} to the {B} by {M}."]),
            TB: (["{P} was sitting on the stairs, reading a magazine.",
                  "{P} saw {M} move the {obj} to the {B}."],
                 ["{P2} was relaxing at home that afternoon.",
                  "With {P} watching, the {obj} was moved from the {A} to the {B} by {M}."]),
        },
        "night": {
            FB: (["{P} went to bed early that night.",
                  "While {P} was asleep, {M} moved the {obj} to the {B}."],
                 ["That night {P2} went to sleep early.",
                  "Hours later, {M} relocated the {obj} from the {A} to the {B}."]),
            TB: (["{P} stayed up late that night.",
                  "{P} helped {M} move the {obj} to the {B}."],
                 ["That night {P2} stayed awake.",
                  "Together, {P} and {M} relocated the {obj} from the {A} to the {B}."]),
        },
    },
    "statement": "The {obj} is in the {X}.",
    "question": "Which room will {P} check first for the {obj}?",
    "stem": "{P} will check the",
}

# State items: the entity as it appears in statements, its full name in the story, the two
# states, whether the change can go either way, and the change clause for f0 and f1 (keyed
# by the new state where the verb depends on it).
STATE_ITEMS = [
    dict(ent="lamp", full="lamp in the study", states=("on", "off"), rev=True,
         c0="{M} switched the lamp {B}", c1="the lamp was switched {B} by {M}"),
    dict(ent="TV", full="TV in the living room", states=("on", "off"), rev=True,
         c0="{M} turned the TV {B}", c1="the TV was turned {B} by {M}"),
    dict(ent="heater", full="heater in the bedroom", states=("on", "off"), rev=True,
         c0="{M} switched the heater {B}", c1="the heater was switched {B} by {M}"),
    dict(ent="oven", full="oven in the kitchen", states=("on", "off"), rev=True,
         c0="{M} turned the oven {B}", c1="the oven was turned {B} by {M}"),
    dict(ent="back door", full="back door", states=("locked", "unlocked"), rev=True,
         c0={"locked": "{M} locked the back door", "unlocked": "{M} unlocked the back door"},
         c1="the back door was {B} by {M}"),
    dict(ent="kitchen window", full="kitchen window", states=("open", "closed"), rev=True,
         c0={"open": "{M} opened the kitchen window", "closed": "{M} closed the kitchen window"},
         c1={"open": "the kitchen window was opened by {M}", "closed": "the kitchen window was shut by {M}"}),
    dict(ent="garden gate", full="garden gate", states=("open", "closed"), rev=True,
         c0={"open": "{M} opened the garden gate", "closed": "{M} closed the garden gate"},
         c1={"open": "the garden gate was swung open by {M}", "closed": "the garden gate was pulled shut by {M}"}),
    dict(ent="milk", full="milk in the fridge", states=("fresh", "sour"), rev=False,
         c0="the fridge broke down and the milk went sour",
         c1="the milk spoiled and turned sour in the broken fridge"),
    dict(ent="cake", full="cake in the oven", states=("fine", "burnt"), rev=False,
         c0="{M} turned the oven up too high and the cake burnt",
         c1="the cake burnt because {M} had turned the oven up too high"),
    dict(ent="ice cream", full="ice cream in the freezer", states=("frozen", "melted"), rev=False,
         c0="{M} left the ice cream on the counter and it melted",
         c1="the ice cream melted after {M} left it out on the counter"),
    dict(ent="soup", full="soup on the stove", states=("hot", "cold"), rev=False,
         c0="{M} switched off the stove and the soup went cold",
         c1="the soup went cold after {M} switched off the stove"),
    dict(ent="plant", full="plant on the balcony", states=("healthy", "wilted"), rev=False,
         c0="a sudden heat wave hit and the plant wilted",
         c1="the plant wilted in a sudden heat wave"),
]

STATES = {
    "tense": "past",
    "f0_base": ["{P} and {M} were at home together.", "{P} saw that the {full} was {A}."],
    "f1_base": ["{P} was spending the day at home with {M}.", "When {P} walked by, the {full} was {A}."],
    "modes": {
        "away_return": {
            FB: (["Then {P} left the house to {errand}.",
                  "While {P} was out, {c0}."],
                 ["Later, {P2} went out to {errand}.",
                  "In {P}'s absence, {c1}."]),
            TB: (["Then {P} left the house to {errand}.",
                  "While {P} was out, {c0}.",
                  "When {P} got back, {p} noticed that the {ent} was {B}."],
                 ["Later, {P2} went out to {errand}.",
                  "In {P}'s absence, {c1}.",
                  "Back home, {P} found that the {ent} was {B}."]),
        },
        "told": {
            FB: (["Then {P} left the house to {errand}.",
                  "While {P} was out, {c0}.",
                  "Nobody told {P} about it."],
                 ["Later, {P2} went out to {errand}.",
                  "In {P}'s absence, {c1}.",
                  "No one mentioned this to {P}."]),
            TB: (["Then {P} left the house to {errand}.",
                  "While {P} was out, {c0}.",
                  "{M} called {P} and said that the {ent} was now {B}."],
                 ["Later, {P2} went out to {errand}.",
                  "In {P}'s absence, {c1}.",
                  "{M} sent {P} a message saying the {ent} was now {B}."]),
        },
        "nap": {
            FB: (["{P} went upstairs to take a nap.",
                  "While {P} was asleep, {c0}."],
                 ["Later, {P2} fell asleep upstairs.",
                  "During {P}'s nap, {c1}."]),
            TB: (["{P} sat down nearby, wide awake.",
                  "{P} noticed at once when {c0}."],
                 ["Later, {P2} settled in nearby, fully awake.",
                  "{P} was right there when {c1}."]),
        },
    },
    "statement": "The {ent} is {X}.",
    "question": "Does {P} think the {ent} is {opt0} or {opt1}?",
    "stem": "{P} thinks the {ent} is",
}

CONTENTS = {
    "tense": "past",
    "boxes": ["tin", "box", "jar", "bag", "carton", "crate", "canister", "pouch", "basket"],
    "options": ["cookies", "crayons", "buttons", "marbles", "pencils", "candles", "seeds", "screws",
                "coins", "beads", "stickers", "tea bags", "batteries", "chocolates", "crackers",
                "rubber bands", "paper clips", "nails", "raisins"],
    "modes": {
        "peek": {
            "f0_base": ['{M} left a {box} labeled "{A}" on the kitchen table.',
                        "{P} read the label on the {box}.",
                        "But the {box} was actually full of {B}."],
            "f1_base": ['On the kitchen table sat a {box} with the word "{A}" written on it, left there by {M}.',
                        "{P} noticed the label.",
                        "Inside, however, there were only {B}."],
            FB: (["{P} put the {box} on a shelf without opening it."],
                 ["{P2} moved it to a shelf without lifting the lid."]),
            TB: (["{P} opened the {box} and saw the {B} inside."],
                 ["{P2} lifted the lid and found the {B}."]),
        },
        "swap": {
            "f0_base": ["{P} and {M} were tidying the kitchen.",
                        '{P} filled a {box} with {A} and wrote "{A}" on the lid.'],
            "f1_base": ['After filling a {box} with {A}, {P} labeled it "{A}" while tidying the kitchen with {M}.'],
            FB: (["Then {P} left the kitchen to {errand}.",
                  "While {P} was gone, {M} emptied the {box} and filled it with {B}."],
                 ["{P2} then stepped out to {errand}.",
                  "Meanwhile, {M} tipped out the {A} and refilled the {box} with {B}."]),
            TB: (["{P} stayed in the kitchen.",
                  "{P} watched {M} empty the {box} and fill it with {B}."],
                 ["{P2} remained in the kitchen with {M}.",
                  "Right in front of {P}, {M} tipped out the {A} and refilled the {box} with {B}."]),
        },
        "told": {
            "f0_base": ['{M} left a {box} labeled "{A}" on the kitchen table.',
                        "{P} read the label on the {box}.",
                        "{M} had actually packed the {box} with {B}."],
            "f1_base": ['{M} had packed a {box} with {B} but labeled it "{A}".',
                        "{P} came across the {box} and read its label."],
            FB: (["{M} did not say a word about it to {P}."],
                 ["{M} never explained what was really inside."]),
            TB: (["{M} told {P} that the {box} was full of {B}."],
                 ["{M} explained to {P} what was really inside."]),
        },
    },
    "statement": "The {box} contains {X}.",
    "question": "What does {P} think is in the {box}?",
    "stem": "{P} thinks the {box} contains",
}

SCHEDULE = {
    "tense": "past",
    "events": ["team meeting", "rehearsal", "book club", "study group", "yoga class", "chess club",
               "staff briefing", "choir practice", "pottery workshop", "quiz night", "debate club",
               "safety training"],
    "options": ["library", "gym", "cafeteria", "auditorium", "lounge", "conference room",
                "music room", "science lab", "boardroom", "studio", "main hall", "seminar room"],
    "f0_base": ["The {event} was set to take place in the {A}.", "{P} read the notice about it on the staff noticeboard."],
    "f1_base": ["According to the notice {P} had read, the {event} would be held in the {A}."],
    "modes": {
        "announce": {
            FB: (["{P} left early that day to {errand}.",
                  "After {P} had left, {M} announced that the {event} was moving to the {B}."],
                 ["{P2} went home early that day.",
                  "Once {P} was gone, {M} told everyone the {event} had been moved to the {B}."]),
            TB: (["{P} stayed until the end of the day.",
                  "{M} announced to everyone there, including {P}, that the {event} was moving to the {B}."],
                 ["{P2} stayed late that day.",
                  "{M} told everyone, {P} included, that the {event} had been moved to the {B}."]),
        },
        "email": {
            FB: (["Later, {M} sent an email moving the {event} to the {B}.",
                  "{P} was on a long flight that day and never saw the email."],
                 ["That afternoon an email from {M} moved the {event} to the {B}.",
                  "Stuck on a flight without internet, {P} missed the message entirely."]),
            TB: (["Later, {M} sent an email moving the {event} to the {B}.",
                  "{P} read the email as soon as it arrived."],
                 ["That afternoon an email from {M} moved the {event} to the {B}.",
                  "{P} opened the message within minutes."]),
        },
        "call": {
            FB: (["At the morning huddle, {P} stepped out to take a phone call.",
                  "While {P} was on the phone, {M} told the group that the {event} would be in the {B} instead."],
                 ["A phone call pulled {P} out of the morning huddle.",
                  "During that call, {M} informed the group that the {B} would host the {event} instead."]),
            TB: (["At the morning huddle, {P} sat with the group the whole time.",
                  "{M} told the group, {P} among them, that the {event} would be in the {B} instead."],
                 ["{P2} stayed for the whole morning huddle.",
                  "In front of the whole group, {P} included, {M} said the {B} would host the {event} instead."]),
        },
    },
    "statement": "The {event} is in the {X}.",
    "question": "Which room will {P} go to for the {event}?",
    "stem": "{P} will go to the",
}

SCHEMAS = ["containers", "rooms", "state_change", "unexpected_contents", "schedule"]


# --------------------------------------------------------------------------------------------
# Story construction
# --------------------------------------------------------------------------------------------

def cap(s):
    return s[0].upper() + s[1:] if s else s


def fill(templates, slots):
    return [cap(t.format_map(slots)) for t in templates]


def people(rng):
    (p, pg), (m, mg), (d, _) = rng.sample(NAMES, 3)
    subj, obj, poss = PRONOUNS[pg]
    return {
        "P": p, "M": m, "D": d, "p": subj, "o": obj, "ps": poss,
        # A pronoun for the protagonist where the mover has the other gender, else the name.
        "P2": subj if pg != mg else p,
    }


def two_options(rng, pool):
    """Two options whose first words differ, so the first answer token tells them apart."""
    while True:
        a, b = rng.sample(pool, 2)
        if a.split()[0] != b.split()[0]:
            return a, b


def build(schema, rng, cond, mode):
    """One story: slots, the f0 and f1 sentence lists, and what the question needs."""
    s = people(rng)
    if schema == "containers":
        d = CONTAINERS
        s.update(place=rng.choice(d["places"]), obj=rng.choice(d["objects"]),
                 errand=rng.choice(ERRANDS_ROOM))
        s["A"], s["B"] = two_options(rng, d["options"])
        f0 = d["f0_base"] + d["modes"][mode][cond][0]
        f1 = d["f1_base"] + d["modes"][mode][cond][1]
    elif schema == "rooms":
        d = ROOMS
        s.update(obj=rng.choice(d["objects"]), errand=rng.choice(ERRANDS_OUT))
        s["A"], s["B"] = two_options(rng, d["options"])
        f0 = d["f0_base"] + d["modes"][mode][cond][0]
        f1 = d["f1_base"] + d["modes"][mode][cond][1]
    elif schema == "state_change":
        d = STATES
        item = rng.choice(STATE_ITEMS)
        a, b = item["states"]
        if item["rev"] and rng.random() < 0.5:
            a, b = b, a
        s.update(ent=item["ent"], full=item["full"], A=a, B=b, errand=rng.choice(ERRANDS_OUT))
        for key in ("c0", "c1"):
            c = item[key][b] if isinstance(item[key], dict) else item[key]
            s[key] = c.format_map(s)
        f0 = d["f0_base"] + d["modes"][mode][cond][0]
        f1 = d["f1_base"] + d["modes"][mode][cond][1]
    elif schema == "unexpected_contents":
        d = CONTENTS
        s.update(box=rng.choice(d["boxes"]), errand=rng.choice(ERRANDS_ROOM))
        s["A"], s["B"] = two_options(rng, d["options"])
        m = d["modes"][mode]
        f0 = m["f0_base"] + m[cond][0]
        f1 = m["f1_base"] + m[cond][1]
    elif schema == "schedule":
        d = SCHEDULE
        s.update(event=rng.choice(d["events"]), errand=rng.choice(ERRANDS_OUT))
        s["A"], s["B"] = two_options(rng, d["options"])
        f0 = d["f0_base"] + d["modes"][mode][cond][0]
        f1 = d["f1_base"] + d["modes"][mode][cond][1]
    else:
        raise ValueError(schema)
    return d, s, fill(f0, s), fill(f1, s)


def modes_of(schema):
    return list({"containers": CONTAINERS, "rooms": ROOMS, "state_change": STATES,
                 "unexpected_contents": CONTENTS, "schedule": SCHEDULE}[schema]["modes"])


def plan(schema, n, rng):
    """(condition, option order, mode) for n stories: conditions 50/50; within each condition
    the two option orders 50/50 (so targets balance) and the modes cycle evenly."""
    rows = []
    for k, cond in enumerate((FB, TB)):
        m = n // 2 + (n % 2 if k == 0 else 0)
        orders = (["ab", "ba"] * m)[:m]
        modes = (modes_of(schema) * m)[:m]
        rng.shuffle(orders)
        rng.shuffle(modes)
        rows += [(cond, o, md) for o, md in zip(orders, modes)]
    rng.shuffle(rows)
    return rows


def generate(seed, n_per_schema):
    stories = []
    seen = set()
    sid = 0
    for schema in SCHEMAS:
        rng = random.Random(f"belief-{seed}-{schema}")
        for cond, order, mode in plan(schema, n_per_schema, rng):
            for _ in range(1000):
                d, s, f0, f1 = build(schema, rng, cond, mode)
                if " ".join(f0) not in seen:
                    break
            else:
                raise SystemExit(f"could not draw a new {schema} story; lower --stories-per-schema")
            seen.add(" ".join(f0))
            # f2: f0 plus one irrelevant sentence, never first or last (the ending stays f0's).
            pool = DISTRACTORS_PRESENT if d["tense"] == "present" else DISTRACTORS_PAST
            opts_words = {w for x in (s["A"], s["B"]) for w in x.lower().split()}
            while True:
                dis = cap(rng.choice(pool).format_map(s))
                if not opts_words & set(re.findall(r"[a-z-]+", dis.lower())):
                    break
            pos = rng.randint(1, len(f0) - 1)
            f2 = f0[:pos] + [dis] + f0[pos:]
            sid += 1
            stories.append(dict(
                story_id=f"s{sid:04d}", schema=schema, condition=cond, mode=mode, order=order,
                slots=s, d=d, forms={"f0": f0, "f1": f1, "f2": f2}, distractor=dis))
    return stories


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------

def rows_for(st):
    s, d = st["slots"], st["d"]
    orig, new = s["A"], s["B"]
    fb = st["condition"] == FB
    statements = []
    # b0: the original state, b1: the new state.
    labels = [(orig, fb, False), (new, not fb, True)]
    opts = [orig, new] if st["order"] == "ab" else [new, orig]
    belief = orig if fb else new
    q = d["question"].format_map({**s, "opt0": opts[0], "opt1": opts[1]})
    stem = d["stem"].format_map(s)
    questions = []
    for form in FORMS:
        story = " ".join(st["forms"][form])
        for b, (x, prot, orac) in enumerate(labels):
            stmt = d["statement"].format_map({**s, "X": x})
            statements.append({
                "id": f"{st['story_id']}-{form}-b{b}", "story_id": st["story_id"],
                "schema": st["schema"], "form": form, "condition": st["condition"],
                "protagonist_name": s["P"], "statement": stmt,
                "text": f"Story: {story}\nBelief: {stmt}",
                "protagonist": prot, "oracle": orac,
                "joint": f"p{'T' if prot else 'F'}_o{'T' if orac else 'F'}",
            })
        questions.append({
            "id": f"{st['story_id']}-{form}-q", "story_id": st["story_id"], "schema": st["schema"],
            "form": form, "condition": st["condition"],
            "messages": [{"role": "user", "content":
                          f"Story: {story}\nQuestion: {q}\nA) {opts[0]}\nB) {opts[1]}\nAnswer:"}],
            "text": f"Story: {story}\nQuestion: {q}\nAnswer: {stem}",
            "choices": ["A", "B"],
            "choice_texts": [" " + o for o in opts],
            "target": opts.index(belief),
            "order": st["order"],
        })
    return statements, questions


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

SENT_SPLIT = re.compile(r'(?<=[.!?])"?\s+(?=[A-Z"])')


def words(text):
    return set(re.findall(r"[a-z][a-z-]*", text.lower()))


# Verb forms that name a state in a change sentence ("Ben opened the window").
ALIASES = {"open": ("opened",), "closed": ("shut",)}


def mentions(sentence, option, aliases=False):
    forms = (option,) + (ALIASES.get(option, ()) if aliases else ())
    return any(re.search(r"\b" + re.escape(f.lower()) + r"\b", sentence.lower()) for f in forms)


def validate(stories, statements, questions):
    problems = []

    def bad(msg):
        problems.append(msg)

    ids = [r["id"] for r in statements] + [r["id"] for r in questions]
    if len(ids) != len(set(ids)):
        bad("duplicate ids")
    if len({st["story_id"] for st in stories}) != len(stories):
        bad("duplicate story ids")
    if len({" ".join(st["forms"]["f0"]) for st in stories}) != len(stories):
        bad("duplicate stories")

    for st in stories:
        s, sid, fb = st["slots"], st["story_id"], st["condition"] == FB
        orig, new = s["A"], s["B"]
        if orig == new or orig.split()[0] == new.split()[0]:
            bad(f"{sid}: options not distinct in their first word: {orig!r} {new!r}")
        if len({s["P"], s["M"], s["D"]}) != 3:
            bad(f"{sid}: characters not distinct")
        f0, f2 = st["forms"]["f0"], st["forms"]["f2"]
        if [x for x in f2 if x != st["distractor"]] != f0 or f2[-1] != f0[-1]:
            bad(f"{sid}: f2 is not f0 plus one inner sentence")
        if (words(st["distractor"]) & words(orig + " " + new)) or s["P"].lower() in words(st["distractor"]):
            bad(f"{sid}: distractor mentions an option or the protagonist")
        for form in FORMS:
            sents = st["forms"][form]
            story = " ".join(sents)
            n = len(SENT_SPLIT.split(story))
            if n != len(sents) or not 3 <= n <= 6:
                bad(f"{sid}-{form}: {n} sentences (built {len(sents)}), want 3 to 6")
            if BELIEF_WORDS.search(story):
                bad(f"{sid}-{form}: states a belief outright: {BELIEF_WORDS.search(story).group(0)!r}")
            if not (mentions(story, orig) and mentions(story, new, aliases=True)):
                bad(f"{sid}-{form}: story does not mention both options")
            last = sents[-1]
            # The ending may not have the protagonist act on a belief (look, search, go to...).
            if SEARCH_WORDS.search(last) and (mentions(last, s["P"]) or last.split()[0].lower() in ("he", "she")):
                bad(f"{sid}-{form}: final sentence has the protagonist searching: {last!r}")
            # In false-belief stories the ending may not point at the believed (original) option
            # unless it is the sentence describing the change itself (naming both).
            if fb and mentions(last, orig) and not mentions(last, new, aliases=True):
                bad(f"{sid}-{form}: false-belief ending names only the believed option: {last!r}")
            stem = st["d"]["stem"].format_map(s)
            if stem.split(" ", 1)[1].lower() in story.lower():
                bad(f"{sid}-{form}: story contains the answer stem {stem!r}")

    for q in questions:
        if not 0 <= q["target"] < len(q["choices"]) or len(q["choice_texts"]) != len(q["choices"]):
            bad(f"{q['id']}: target or choices out of range")
        if not all(c.startswith(" ") and not c.startswith("  ") for c in q["choice_texts"]):
            bad(f"{q['id']}: choice_texts must start with one space")
        content = q["messages"][0]["content"]
        opts = [c.strip() for c in q["choice_texts"]]
        if f"\nA) {opts[0]}\nB) {opts[1]}\nAnswer:" not in content:
            bad(f"{q['id']}: A/B letters and choice_texts disagree")
        if q["text"].endswith(" ") or not q["text"].startswith("Story: "):
            bad(f"{q['id']}: completion text malformed")

    # Balance.
    tgt = collections.Counter((q["schema"], q["condition"], q["form"], q["target"]) for q in questions)
    for schema in SCHEMAS:
        for cond in (FB, TB):
            for form in FORMS:
                a, b = tgt[(schema, cond, form, 0)], tgt[(schema, cond, form, 1)]
                if abs(a - b) > 1:
                    bad(f"targets unbalanced in {schema}/{cond}/{form}: {a} vs {b}")
    conds = collections.Counter(st["condition"] for st in stories)
    if abs(conds[FB] - conds[TB]) > len(SCHEMAS):
        bad(f"conditions unbalanced: {dict(conds)}")
    joints = collections.Counter(r["joint"] for r in statements)
    if max(joints.values()) - min(joints.values()) > 2 * len(SCHEMAS) * len(FORMS):
        bad(f"joint labels unbalanced: {dict(joints)}")
    for r in statements:
        fb = r["condition"] == FB
        want = {("b0", True): "pT_oF", ("b1", True): "pF_oT",
                ("b0", False): "pF_oF", ("b1", False): "pT_oT"}[(r["id"][-2:], fb)]
        if r["joint"] != want:
            bad(f"{r['id']}: joint {r['joint']} but expected {want}")
    return problems


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def count_tables(stories, statements, questions):
    lines = []
    jc = collections.Counter((r["schema"], r["condition"], r["joint"]) for r in statements)
    lines.append("statements per schema x condition x joint (all three forms):")
    lines.append(f"  {'schema':<21}{'condition':<14}{'pT_oT':>7}{'pT_oF':>7}{'pF_oT':>7}{'pF_oF':>7}")
    for schema in SCHEMAS:
        for cond in (FB, TB):
            vals = "".join(f"{jc[(schema, cond, j)]:>7}" for j in ("pT_oT", "pT_oF", "pF_oT", "pF_oF"))
            lines.append(f"  {schema:<21}{cond:<14}{vals}")
    tot = collections.Counter(r["joint"] for r in statements)
    lines.append(f"  {'total':<35}" + "".join(f"{tot[j]:>7}" for j in ("pT_oT", "pT_oF", "pF_oT", "pF_oF")))
    qc = collections.Counter((q["schema"], q["condition"], q["target"]) for q in questions)
    lines.append("questions per schema x condition x target (all three forms):")
    lines.append(f"  {'schema':<21}{'condition':<14}{'t=0':>6}{'t=1':>6}")
    for schema in SCHEMAS:
        for cond in (FB, TB):
            lines.append(f"  {schema:<21}{cond:<14}{qc[(schema, cond, 0)]:>6}{qc[(schema, cond, 1)]:>6}")
    t = collections.Counter(q["target"] for q in questions)
    lines.append(f"  {'total':<35}{t[0]:>6}{t[1]:>6}")
    mc = collections.Counter((st["schema"], st["mode"], st["condition"]) for st in stories)
    lines.append("stories per schema x perception mode x condition:")
    for schema in SCHEMAS:
        for mode in modes_of(schema):
            lines.append(f"  {schema:<21}{mode:<14}{FB}={mc[(schema, mode, FB)]:<4}{TB}={mc[(schema, mode, TB)]}")
    return lines


def example_block(st, statements, questions):
    out = []
    for form in FORMS:
        out.append(f"{form}: " + " ".join(st["forms"][form]))
    out.append("")
    for r in statements:
        if r["story_id"] == st["story_id"] and r["form"] == "f0":
            out.append(f"{r['id']}: {r['statement']!r}  protagonist={r['protagonist']} "
                       f"oracle={r['oracle']} joint={r['joint']}")
    q = next(q for q in questions if q["story_id"] == st["story_id"] and q["form"] == "f0")
    out.append("")
    out.append(f"{q['id']} messages[0].content:")
    out += ["    " + x for x in q["messages"][0]["content"].split("\n")]
    out.append(f"{q['id']} text:")
    out += ["    " + x for x in q["text"].split("\n")]
    out.append(f"choice_texts={q['choice_texts']} target={q['target']} order={q['order']}")
    return out


def readme(args, stories, statements, questions, tables):
    n = len(stories)
    ex = next(st for st in stories if st["condition"] == FB)
    modes = {sc: ", ".join(modes_of(sc)) for sc in SCHEMAS}
    return f"""# Belief tracking (protagonist vs oracle)

Procedural false-belief stories for probing whether a small LM (SmolLM2-135M-Instruct,
Gemma-3-270M) represents what a story character believes separately from what is true, after
Zhu et al. (ICML 2024, "Language Models Represent Beliefs of Self and Others") and
Bortoletto et al. (2024). Generated by `make_belief.py` (Python 3.11, standard library only,
deterministic for a seed). Regenerate with

    python3 probes/belief/make_belief.py --seed {args.seed} --stories-per-schema {args.stories_per_schema}

## Schemas

| schema | what changes | statement | question |
|---|---|---|---|
| `containers` | an object is moved from one container to another (Sally-Anne), present tense | `The ball is in the basket.` | Where will X look for the ball? |
| `rooms` | an object is carried from one room of a shared house to another | `The laptop is in the garage.` | Which room will X check first for the laptop? |
| `state_change` | a lamp/TV/heater/oven is switched, a door locked, a window or gate opened, milk goes sour, a cake burns, ice cream melts, soup goes cold, a plant wilts (reversible states change in either direction) | `The lamp is off.` | Does X think the lamp is on or off? |
| `unexpected_contents` | a container labeled X holds Y (or is emptied and refilled); the protagonist reads the label and does or does not see inside / is or is not told | `The tin contains buttons.` | What does X think is in the tin? |
| `schedule` | an event is moved from one room to another, announced while the protagonist is or is not there | `The rehearsal is in the gym.` | Which room will X go to for the rehearsal? |

Each schema draws agents from {len(NAMES)} names (both genders, many cultures; a third name is
used for distractors), and has its own objects, places, containers, states and verbs.
Perception modes (how the protagonist misses or perceives the change), balanced within each
condition:

""" + "\n".join(f"- `{sc}`: {modes[sc]}" for sc in SCHEMAS) + f"""

## Conditions

- `false_belief`: the world changes while the protagonist does not perceive it (left the
  room or house, asleep, in the shower, on the phone, on a flight, never opened the box,
  nobody told them). The protagonist still believes the original state.
- `true_belief`: the protagonist perceives the change (stays and watches, is told or
  messaged, comes back and sees it, opens the box). The protagonist believes the new state.

Exactly half the stories of every schema are in each condition.

## Surface forms

Every story (one `story_id`) is rendered three ways with the same entities and answer:

- `f0`: canonical wording and order;
- `f1`: different wording (synonyms, passive voice, merged or subordinate clauses,
  pronouns where unambiguous);
- `f2`: `f0` with one irrelevant sentence (weather, a neighbour, a noise...) inserted
  between two inner sentences; the first and last sentences are those of `f0`.

Stories have 3 to 6 sentences. No story contains a belief word (think, believe, know,
expect, remember...), or the question's answer stem; no ending has the protagonist looking,
searching or heading somewhere; no false-belief ending names the believed option unless it is
the sentence describing the change (which names both).

## Files

### `statements.jsonl` ({len(statements)} rows)

Two rows per story and form: `b0` is the statement of the original state (container, room,
label, event room, state before), `b1` that of the new state. `text` is
`"Story: {{story}}\\nBelief: {{statement}}"`, where the statement is a plain proposition about
the world (never "X believes...").

- `protagonist`: whether the protagonist believes the statement at the end of the story;
- `oracle`: whether it is actually true at the end of the story;
- `joint`: `pT_oF` (false belief, original state), `pF_oT` (false belief, new state),
  `pT_oT` (true belief, new state), `pF_oF` (true belief, original state).

Over the whole file protagonist and oracle labels are each 50/50 and independent of each other;
within a condition they are perfectly (anti-)correlated, so probe the two conditions together.
Note that `oracle` coincides with "this is the new state" (b1) in every story, and words of
irreversible changes (`sour`, `burnt`, `melted`, `cold`, `wilted`) are always the new
state; `protagonist` is the label that needs the story to be tracked. Group folds by
`story_id` (the same story appears in three forms, two statements each), and hold out a
`form` or a `schema` to test transfer.

### `questions.jsonl` ({len(questions)} rows)

One two-option question per story and form. `messages` holds the multiple-choice prompt
(`A) ... B) ... Answer:`; `choices` are the letters), `text` a completion prompt that ends just
before the answer word, with `choice_texts` (each starting with a space) the two options in
the same order as the letters. `target` is the index of the protagonist's belief (the original
state in false-belief stories, the new one in true-belief stories). `order` is `ab` when the
original state is option A and `ba` when it is option B; within every schema and condition half
the stories are `ab`, so each target is right half the time and neither the letter nor the
position gives the answer. The two options never share their first word. A story keeps its
option order in all three forms.

`questions.jsonl` carries both `messages` and `text`, but mindlens readers (`src/prompts.rs`
for harvest, `read_items` in `src/steer/sweep.rs`) reject a row with more than one prompt field,
so drop the one not used first (and for steer-style A/B items, which list the options themselves
and take the option texts as `choices`, use the stripped `choice_texts` as `choices`), e.g.
`python3 -c "import json,sys; [print(json.dumps({{k:v for k,v in json.loads(l).items() if k!='messages'}})) for l in sys.stdin]" < questions.jsonl > questions_text.jsonl`.

## Counts (seed {args.seed}, {args.stories_per_schema} stories per schema, {n} stories)

```
""" + "\n".join(tables) + f"""
```

## Example ({ex['story_id']}, {ex['schema']}, {ex['condition']})

```
""" + "\n".join(example_block(ex, statements, questions)) + "\n```\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stories-per-schema", type=int, default=40)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args(argv)
    if args.stories_per_schema < 2:
        ap.error("--stories-per-schema must be at least 2")

    stories = generate(args.seed, args.stories_per_schema)
    statements, questions = [], []
    for st in stories:
        a, b = rows_for(st)
        statements += a
        questions += b

    problems = validate(stories, statements, questions)
    if problems:
        for p in problems[:50]:
            print("INVALID:", p, file=sys.stderr)
        raise SystemExit(f"{len(problems)} validation problem(s); nothing written")

    tables = count_tables(stories, statements, questions)
    os.makedirs(args.out, exist_ok=True)
    write_jsonl(os.path.join(args.out, "statements.jsonl"), statements)
    write_jsonl(os.path.join(args.out, "questions.jsonl"), questions)
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(args, stories, statements, questions, tables))
    print(f"{len(stories)} stories, {len(statements)} statements, {len(questions)} questions -> {args.out}")
    print("\n".join(tables))
    print("validation: ok (unique ids, labels, balance, 3-6 sentences, no leaking endings)")


if __name__ == "__main__":
    main()
